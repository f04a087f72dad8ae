using System.Runtime.InteropServices;

namespace MLNet.FastAi.Bench.Infrastructure;

/// <summary>
/// glibc's heap statistics over all arenas (<c>mallinfo2</c>): how much the C heap holds in use, how much it keeps
/// free, and how much it mapped directly. Null where the C library is not glibc.
/// </summary>
internal readonly record struct NativeHeap(long ArenaBytes, long MappedBytes, long InUseBytes, long FreeBytes)
{
    public static NativeHeap? Read()
    {
        if (!OperatingSystem.IsLinux()) return null;
        try
        {
            var info = mallinfo2();
            return new NativeHeap((long)info.arena, (long)info.hblkhd, (long)info.uordblks, (long)info.fordblks);
        }
        catch (EntryPointNotFoundException)
        {
            return null;
        }
        catch (DllNotFoundException)
        {
            return null;
        }
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct MallInfo2
    {
        public nuint arena, ordblks, smblks, hblks, hblkhd, usmblks, fsmblks, uordblks, fordblks, keepcost;
    }

    [DllImport("libc", EntryPoint = "mallinfo2")]
    private static extern MallInfo2 mallinfo2();
}

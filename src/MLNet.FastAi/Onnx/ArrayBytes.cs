using System.Buffers;
using System.Runtime.InteropServices;

namespace MLNet.FastAi.Onnx;

/// <summary>
/// The bytes of an array of numbers as a <see cref="Memory{T}"/> of bytes, without copying: lets a weight array
/// become a protobuf <c>bytes</c> field through <c>UnsafeByteOperations.UnsafeWrap</c>. The array must not change
/// while the message holding it is in use.
/// </summary>
internal sealed class ArrayBytes<T>(T[] array) : MemoryManager<byte> where T : unmanaged
{
    public override Span<byte> GetSpan() => MemoryMarshal.AsBytes(array.AsSpan());

    public override unsafe MemoryHandle Pin(int elementIndex = 0)
    {
        var handle = GCHandle.Alloc(array, GCHandleType.Pinned);
        return new MemoryHandle((byte*)handle.AddrOfPinnedObject() + elementIndex, handle);
    }

    // Pin hands the GC handle to the MemoryHandle, which frees it when disposed.
    public override void Unpin() { }

    protected override void Dispose(bool disposing) { }
}

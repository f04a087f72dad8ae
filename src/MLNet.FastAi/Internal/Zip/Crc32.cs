namespace MLNet.FastAi.Internal.Zip;

/// <summary>The CRC-32 of zip files (ISO 3309, reflected polynomial 0xEDB88320), computed incrementally.</summary>
internal static class Crc32
{
    private static readonly uint[] Table = BuildTable();

    /// <summary>The state before any byte; <see cref="Final"/> of it is the CRC of nothing (0).</summary>
    public const uint Initial = 0xFFFFFFFF;

    public static uint Append(uint state, ReadOnlySpan<byte> data)
    {
        foreach (byte b in data) state = Table[(state ^ b) & 0xFF] ^ (state >> 8);
        return state;
    }

    public static uint Final(uint state) => ~state;

    public static uint Compute(ReadOnlySpan<byte> data) => Final(Append(Initial, data));

    private static uint[] BuildTable()
    {
        var table = new uint[256];
        for (uint n = 0; n < 256; n++)
        {
            uint c = n;
            for (int k = 0; k < 8; k++) c = (c & 1) != 0 ? 0xEDB88320 ^ (c >> 1) : c >> 1;
            table[n] = c;
        }
        return table;
    }
}

namespace MLNet.FastAi.Tests.Training.TensorBoard;

/// <summary>
/// A bit-at-a-time CRC-32C written from the definition (reflected polynomial 0x82F63B78, init and final xor
/// 0xFFFFFFFF) and TensorFlow's mask, independent of the library's table-free hardware path.
/// </summary>
internal static class ReferenceCrc32C
{
    public static uint Compute(ReadOnlySpan<byte> data)
    {
        uint crc = 0xFFFFFFFF;
        foreach (byte b in data)
        {
            crc ^= b;
            for (int bit = 0; bit < 8; bit++) crc = (crc & 1) != 0 ? (crc >> 1) ^ 0x82F63B78 : crc >> 1;
        }
        return ~crc;
    }

    public static uint Masked(ReadOnlySpan<byte> data)
    {
        uint crc = Compute(data);
        return unchecked(((crc >> 15) | (crc << 17)) + 0xA282EAD8);
    }
}

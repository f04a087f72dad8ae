using System.Text;
using MLNet.FastAi.Interpretation.TensorBoard;

namespace MLNet.FastAi.Tests.Training.TensorBoard;

public class Crc32CTests
{
    [Fact]
    public void CheckValue_OfTheStandardString_Is0xE3069283()
    {
        var data = Encoding.ASCII.GetBytes("123456789");
        Assert.Equal(0xE3069283u, ReferenceCrc32C.Compute(data));
        Assert.Equal(0xE3069283u, Crc32C.Compute(data));
    }

    [Fact]
    public void Rfc3720Vectors_Match()
    {
        // RFC 3720 (iSCSI) appendix B.4, CRC values as integers.
        var zeros = new byte[32];
        var ones = Enumerable.Repeat((byte)0xFF, 32).ToArray();
        var ascending = Enumerable.Range(0, 32).Select(i => (byte)i).ToArray();
        var descending = Enumerable.Range(0, 32).Select(i => (byte)(31 - i)).ToArray();
        Assert.Equal(0x8A9136AAu, Crc32C.Compute(zeros));
        Assert.Equal(0x62A8AB43u, Crc32C.Compute(ones));
        Assert.Equal(0x46DD794Eu, Crc32C.Compute(ascending));
        Assert.Equal(0x113FDB5Cu, Crc32C.Compute(descending));
    }

    [Fact]
    public void MaskedCrc_OfAZeroLengthHeader_Is0x07980329()
    {
        var header = new byte[8];
        Assert.Equal(0x07980329u, ReferenceCrc32C.Masked(header));
        Assert.Equal(0x07980329u, Crc32C.Masked(header));
    }

    [Fact]
    public void AnyLengthAndAlignment_MatchesTheBitwiseReference()
    {
        var random = new Random(12345);
        var buffer = new byte[1100];
        random.NextBytes(buffer);
        foreach (int start in new[] { 0, 1, 3, 7 })
            for (int length = 0; length <= 70; length++)
                Assert.Equal(ReferenceCrc32C.Compute(buffer.AsSpan(start, length)), Crc32C.Compute(buffer.AsSpan(start, length)));
        Assert.Equal(ReferenceCrc32C.Masked(buffer), Crc32C.Masked(buffer));
    }
}

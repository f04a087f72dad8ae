using System.Buffers.Binary;
using System.Text;
using System.Text.RegularExpressions;
using MLNet.FastAi.Interpretation.TensorBoard;
using WireType = Google.Protobuf.WireFormat.WireType;

namespace MLNet.FastAi.Tests.Training.TensorBoard;

public sealed class TensorBoardWriterTests : IDisposable
{
    private static readonly DateTimeOffset Start = DateTimeOffset.FromUnixTimeMilliseconds(1_700_000_000_250);
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "mlnet-fastai-tb-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_dir)) Directory.Delete(_dir, recursive: true);
    }

    [Fact]
    public void File_IsByteForByteTheExpectedTfRecords()
    {
        var clock = new ManualTimeProvider(Start);
        string path;
        using (var writer = new TensorBoardWriter(_dir, null, TimeSpan.FromHours(1), clock))
        {
            clock.Now = Start.AddSeconds(2);
            writer.AddScalar("loss", 0.5f, 5);
            path = writer.FilePath;
        }

        // Hand-encoded from event.proto / summary.proto: Event{wall_time(1, double), file_version(3)} and
        // Event{wall_time, step(2)=5, summary(5){value(1){tag(1)="loss", simple_value(2)=0.5f}}}.
        byte[] header = [0x09, .. Double(1_700_000_000.25), 0x1A, 13, .. "brain.Event:2"u8];
        byte[] scalar = [0x09, .. Double(1_700_000_002.25), 0x10, 0x05, 0x2A, 13, 0x0A, 11, 0x0A, 4, .. "loss"u8, 0x15, 0x00, 0x00, 0x00, 0x3F];
        byte[] expected = [.. Frame(header), .. Frame(scalar)];

        Assert.Equal(expected, File.ReadAllBytes(path));
    }

    [Fact]
    public void FileName_FollowsTensorBoardsPattern_AndEachWriterGetsItsOwnFile()
    {
        var clock = new ManualTimeProvider(Start);
        using var first = new TensorBoardWriter(_dir, null, TimeSpan.FromHours(1), clock);
        using var second = new TensorBoardWriter(_dir, ".v2", TimeSpan.FromHours(1), clock);

        var pattern = new Regex(@"^events\.out\.tfevents\.(\d{10})\.(.+)\.(\d+)\.(\d+)(\.v2)?$");
        foreach (var writer in new[] { first, second })
        {
            Assert.Equal(Path.GetFullPath(_dir), writer.LogDirectory);
            var match = pattern.Match(Path.GetFileName(writer.FilePath));
            Assert.True(match.Success, writer.FilePath);
            Assert.Equal("1700000000", match.Groups[1].Value);
            Assert.Equal(Environment.ProcessId.ToString(), match.Groups[3].Value);
            Assert.Contains("tfevents", Path.GetFileName(writer.FilePath)); // all TensorBoard's reader looks for
        }
        Assert.NotEqual(first.FilePath, second.FilePath);
        Assert.EndsWith(".v2", second.FilePath);
        Assert.Equal(2, Directory.GetFiles(_dir).Length);
    }

    [Fact]
    public void ScalarsImagesAndText_ReadBackRecordByRecord()
    {
        byte[] rgba = FakePng(width: 3, height: 2, colorType: 6);
        byte[] rgb = FakePng(width: 5, height: 4, colorType: 2);
        var clock = new ManualTimeProvider(Start);
        string path;
        using (var writer = new TensorBoardWriter(_dir, null, TimeSpan.FromHours(1), clock))
        {
            writer.AddScalar(TensorBoardTags.TrainLoss, 1.25f, 0);
            writer.AddScalars([(TensorBoardTags.LearningRate(0), 1e-3f), (TensorBoardTags.Momentum(0), 0.95f)], 1);
            writer.AddImage("Sample results", rgba, 3, 2, 2);
            writer.AddImage("confusion", rgb, 3);
            writer.AddText("notes", "**accuracy** 0.9 ✓", 4);
            path = writer.FilePath;
        }

        var bytes = File.ReadAllBytes(path);
        var records = TensorBoardEventReader.ReadRecords(path);
        Assert.Equal(6, records.Count);
        long offset = 0;
        foreach (var record in records)
        {
            // Each record's framing, checked against the test's own CRC.
            Assert.Equal(offset, record.Offset);
            Assert.Equal((ulong)record.Data.Length, record.Length);
            Assert.Equal((ulong)record.Data.Length, BinaryPrimitives.ReadUInt64LittleEndian(bytes.AsSpan((int)offset)));
            Assert.Equal(ReferenceCrc32C.Masked(bytes.AsSpan((int)offset, 8)), record.MaskedLengthCrc);
            Assert.Equal(ReferenceCrc32C.Masked(record.Data), record.MaskedDataCrc);
            offset += 12 + record.Data.Length + 4;
        }
        Assert.Equal(bytes.Length, offset);

        var events = TensorBoardEventReader.ReadEvents(path);
        Assert.Equal("brain.Event:2", events[0].FileVersion);
        Assert.Equal(1_700_000_000.25, events[0].WallTime);
        Assert.Empty(events[0].Values);
        Assert.Equal(new long[] { 0, 1, 2, 3, 4 }, events.Skip(1).Select(e => e.Step));
        Assert.All(events.Skip(1), e => Assert.Null(e.FileVersion));

        var loss = Assert.Single(events[1].Values);
        Assert.Equal(("train_loss", 1.25f), (loss.Tag, loss.SimpleValue!.Value));
        Assert.Equal(new[] { ("lr_0", 1e-3f), ("mom_0", 0.95f) }, events[2].Values.Select(v => (v.Tag, v.SimpleValue!.Value)));

        var sample = Assert.Single(events[3].Values);
        Assert.Equal("Sample results", sample.Tag);
        Assert.Equal((2, 3, 4), (sample.Image!.Height, sample.Image.Width, sample.Image.Colorspace));
        Assert.Equal(rgba, sample.Image.EncodedImage);
        var confusion = Assert.Single(events[4].Values).Image!;
        Assert.Equal((4, 5, 3), (confusion.Height, confusion.Width, confusion.Colorspace));

        var text = Assert.Single(events[5].Values);
        Assert.Equal(("notes", "**accuracy** 0.9 ✓", "text"), (text.Tag, text.Text, text.PluginName));
        Assert.Null(text.SimpleValue);
    }

    [Fact]
    public void TextAndImageValues_DecodeWithTheFieldNumbersOfTensorBoardsProtos()
    {
        // Decoded field by field with no help from the library's reader. Field numbers and types from
        // tensorflow/tensorboard tensorboard/compat/proto: event.proto (Event: double wall_time = 1; int64 step = 2;
        // Summary summary = 5), summary.proto (Summary: repeated Value value = 1; Value: string tag = 1;
        // Image image = 4; TensorProto tensor = 8; SummaryMetadata metadata = 9; Image: int32 height = 1;
        // int32 width = 2; int32 colorspace = 3; bytes encoded_image_string = 4; SummaryMetadata:
        // PluginData plugin_data = 1; PluginData: string plugin_name = 1; bytes content = 2), tensor.proto
        // (TensorProto: DataType dtype = 1; TensorShapeProto tensor_shape = 2; repeated bytes string_val = 8),
        // tensor_shape.proto (repeated Dim dim = 2) and types.proto (DT_STRING = 7).
        byte[] png = FakePng(width: 7, height: 9, colorType: 0);
        string path;
        using (var writer = new TensorBoardWriter(_dir, null, TimeSpan.FromHours(1), new ManualTimeProvider(Start)))
        {
            writer.AddText("log", "epoch 1 done", 12);
            writer.AddImage("gray", png, 7, 9, 13);
            path = writer.FilePath;
        }
        var records = TensorBoardEventReader.ReadRecords(path);

        var textEvent = WireFields.Parse(records[1].Data);
        Assert.Equal(1_700_000_000.25, BitConverter.UInt64BitsToDouble(WireFields.Single(textEvent, 1, WireType.Fixed64).Number64));
        Assert.Equal(12UL, WireFields.Single(textEvent, 2, WireType.Varint).Number64);
        var summary = WireFields.Parse(WireFields.Single(textEvent, 5, WireType.LengthDelimited).Bytes);
        var value = WireFields.Parse(WireFields.Single(summary, 1, WireType.LengthDelimited).Bytes);
        Assert.Equal("log", Encoding.UTF8.GetString(WireFields.Single(value, 1, WireType.LengthDelimited).Bytes));
        var tensor = WireFields.Parse(WireFields.Single(value, 8, WireType.LengthDelimited).Bytes);
        Assert.Equal(7UL, WireFields.Single(tensor, 1, WireType.Varint).Number64);
        Assert.Empty(WireFields.Single(tensor, 2, WireType.LengthDelimited).Bytes); // rank 0: a scalar string
        Assert.Equal("epoch 1 done", Encoding.UTF8.GetString(WireFields.Single(tensor, 8, WireType.LengthDelimited).Bytes));
        var metadata = WireFields.Parse(WireFields.Single(value, 9, WireType.LengthDelimited).Bytes);
        var pluginData = WireFields.Parse(WireFields.Single(metadata, 1, WireType.LengthDelimited).Bytes);
        Assert.Equal("text", Encoding.UTF8.GetString(WireFields.Single(pluginData, 1, WireType.LengthDelimited).Bytes));
        // content = TextPluginData{version=0}, which is empty bytes: proto3 leaves an empty bytes field out, as
        // TensorBoard's own Python writer does, and a reader sees empty content.
        Assert.DoesNotContain(pluginData, f => f.Number == 2);
        Assert.True(Tensorboard.SummaryMetadata.Types.PluginData.Parser.ParseFrom(WireFields.Single(metadata, 1, WireType.LengthDelimited).Bytes).Content.IsEmpty);
        Assert.Equal(new[] { 1, 8, 9 }, value.Select(f => f.Number).Order());

        var imageEvent = WireFields.Parse(records[2].Data);
        Assert.Equal(13UL, WireFields.Single(imageEvent, 2, WireType.Varint).Number64);
        var imageValue = WireFields.Parse(WireFields.Single(WireFields.Parse(WireFields.Single(imageEvent, 5, WireType.LengthDelimited).Bytes), 1, WireType.LengthDelimited).Bytes);
        var image = WireFields.Parse(WireFields.Single(imageValue, 4, WireType.LengthDelimited).Bytes);
        Assert.Equal(9UL, WireFields.Single(image, 1, WireType.Varint).Number64);
        Assert.Equal(7UL, WireFields.Single(image, 2, WireType.Varint).Number64);
        Assert.Equal(1UL, WireFields.Single(image, 3, WireType.Varint).Number64); // PNG colour type 0: grayscale
        Assert.Equal(png, WireFields.Single(image, 4, WireType.LengthDelimited).Bytes);
    }

    [Fact]
    public void TruncatedFile_FailsNamingFileAndRecord()
    {
        string path;
        using (var writer = new TensorBoardWriter(_dir, null, TimeSpan.FromHours(1), new ManualTimeProvider(Start)))
        {
            writer.AddScalar("a", 1f, 1);
            writer.AddScalar("b", 2f, 2);
            path = writer.FilePath;
        }
        var bytes = File.ReadAllBytes(path);
        int secondScalarStart = (int)TensorBoardEventReader.ReadRecords(path)[2].Offset;

        File.WriteAllBytes(path, bytes[..^3]);
        var inData = Assert.Throws<InvalidDataException>(() => TensorBoardEventReader.ReadRecords(path));
        Assert.Contains(path, inData.Message);
        Assert.Contains($"record 2 at byte {secondScalarStart}", inData.Message);
        Assert.Contains("truncated", inData.Message);

        File.WriteAllBytes(path, bytes[..(secondScalarStart + 5)]);
        var inHeader = Assert.Throws<InvalidDataException>(() => TensorBoardEventReader.ReadRecords(path));
        Assert.Contains("record 2", inHeader.Message);
        Assert.Contains("truncated header", inHeader.Message);
    }

    [Fact]
    public void CorruptBytes_FailTheChecksumThatCoversThem()
    {
        string path;
        using (var writer = new TensorBoardWriter(_dir, null, TimeSpan.FromHours(1), new ManualTimeProvider(Start)))
        {
            writer.AddScalar("a", 1f, 1);
            path = writer.FilePath;
        }
        var good = File.ReadAllBytes(path);
        int recordStart = (int)TensorBoardEventReader.ReadRecords(path)[1].Offset;

        var badData = (byte[])good.Clone();
        badData[recordStart + 12 + 3] ^= 0x01;
        var dataError = Assert.Throws<InvalidDataException>(() => TensorBoardEventReader.ReadRecords(badData, path));
        Assert.Contains("record 1", dataError.Message);
        Assert.Contains("data checksum mismatch", dataError.Message);

        var badLength = (byte[])good.Clone();
        badLength[recordStart] ^= 0x01;
        var lengthError = Assert.Throws<InvalidDataException>(() => TensorBoardEventReader.ReadRecords(badLength, path));
        Assert.Contains("record 1", lengthError.Message);
        Assert.Contains("length checksum mismatch", lengthError.Message);
    }

    [Fact]
    public void Records_ReachTheFileOnFlush_AndOnTheFlushTimer_WhileTheWriterIsOpen()
    {
        var clock = new ManualTimeProvider(Start);
        using var writer = new TensorBoardWriter(_dir, null, TimeSpan.FromSeconds(30), clock);
        Assert.Single(TensorBoardEventReader.ReadRecords(writer.FilePath)); // the file-version record is flushed at once

        writer.AddScalar("x", 1f, 1);
        Assert.Single(TensorBoardEventReader.ReadRecords(writer.FilePath)); // buffered
        clock.FireTimer();
        Assert.Equal(2, TensorBoardEventReader.ReadRecords(writer.FilePath).Count);

        writer.AddScalar("x", 2f, 2);
        writer.Flush();
        Assert.Equal(3, TensorBoardEventReader.ReadRecords(writer.FilePath).Count);
    }

    [Fact]
    public void ConcurrentWriters_ProduceOnlyWholeRecords()
    {
        const int threads = 4, perThread = 250;
        string path;
        using (var writer = new TensorBoardWriter(_dir))
        {
            Parallel.For(0, threads, new ParallelOptions { MaxDegreeOfParallelism = threads }, t =>
            {
                for (int i = 0; i < perThread; i++)
                {
                    if (i % 2 == 0) writer.AddScalar($"t{t}", i, i);
                    else writer.AddText($"text{t}", $"line {i}", i);
                }
            });
            path = writer.FilePath;
        }
        var events = TensorBoardEventReader.ReadEvents(path);
        Assert.Equal(1 + threads * perThread, events.Count);
        for (int t = 0; t < threads; t++)
        {
            var scalars = events.SelectMany(e => e.Values).Where(v => v.Tag == $"t{t}").Select(v => v.SimpleValue!.Value).ToList();
            Assert.Equal(Enumerable.Range(0, perThread).Where(i => i % 2 == 0).Select(i => (float)i), scalars);
        }
    }

    [Fact]
    public void BadInput_IsRejectedWithTheTagNamed()
    {
        using var writer = new TensorBoardWriter(_dir, null, TimeSpan.FromHours(1), new ManualTimeProvider(Start));
        var notPng = Assert.Throws<ArgumentException>(() => writer.AddImage("pic", "GIF89a............................"u8.ToArray(), 1, 1, 0));
        Assert.Contains("'pic'", notPng.Message);
        var wrongSize = Assert.Throws<ArgumentException>(() => writer.AddImage("pic", FakePng(4, 4, 6), 4, 5, 0));
        Assert.Contains("4x5", wrongSize.Message);
        Assert.Throws<ArgumentException>(() => writer.AddScalar(" ", 1f, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => new TensorBoardWriter(_dir, null, TimeSpan.Zero, TimeProvider.System));

        writer.Dispose();
        Assert.Throws<ObjectDisposedException>(() => writer.AddScalar("x", 1f, 0));
        Assert.Single(TensorBoardEventReader.ReadRecords(writer.FilePath)); // nothing half-written by the rejected calls
    }

    [Fact]
    public void Tags_FollowFastaiNames()
    {
        Assert.Equal("train_loss", TensorBoardTags.TrainLoss);
        Assert.Equal("valid_loss", TensorBoardTags.ValidLoss);
        Assert.Equal("lr_0", TensorBoardTags.LearningRate(0));
        Assert.Equal("mom_2", TensorBoardTags.Momentum(2));
        Assert.Equal("wd_1", TensorBoardTags.WeightDecay(1));
        Assert.Equal("sqr_mom_0", TensorBoardTags.Hyperparameter("sqr_mom", 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => TensorBoardTags.LearningRate(-1));
    }

    private static byte[] Double(double value)
    {
        var bytes = new byte[8];
        BinaryPrimitives.WriteDoubleLittleEndian(bytes, value);
        return bytes;
    }

    private static byte[] Frame(byte[] data)
    {
        var length = new byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(length, (ulong)data.Length);
        var lengthCrc = new byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(lengthCrc, ReferenceCrc32C.Masked(length));
        var dataCrc = new byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(dataCrc, ReferenceCrc32C.Masked(data));
        return [.. length, .. lengthCrc, .. data, .. dataCrc];
    }

    /// <summary>A PNG signature and IHDR chunk (all the writer inspects), followed by a few bytes of body.</summary>
    private static byte[] FakePng(int width, int height, byte colorType)
    {
        var png = new byte[8 + 25 + 4];
        new byte[] { 0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A }.CopyTo(png, 0);
        BinaryPrimitives.WriteUInt32BigEndian(png.AsSpan(8), 13);
        "IHDR"u8.CopyTo(png.AsSpan(12));
        BinaryPrimitives.WriteUInt32BigEndian(png.AsSpan(16), (uint)width);
        BinaryPrimitives.WriteUInt32BigEndian(png.AsSpan(20), (uint)height);
        png[24] = 8;
        png[25] = colorType;
        return png;
    }
}

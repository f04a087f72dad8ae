using Google.Protobuf;
using Tensorboard;

namespace MLNet.FastAi.Interpretation.TensorBoard;

/// <summary>
/// Builds <c>tensorboard.Event</c> messages with the generated classes TorchSharp ships (namespace
/// <c>Tensorboard</c>), as TensorBoard's own writers fill them: scalars as <c>simple_value</c>, PNG images, and text
/// as a rank-0 string tensor tagged for the text plugin.
/// </summary>
internal static class TensorBoardEventEncoder
{
    public const string FileVersion = "brain.Event:2";
    public const string TextPluginName = "text";

    /// <summary>The first record of every event file. Step stays unset (0), as TensorBoard's own writer leaves it.</summary>
    public static Event FileVersionEvent(double wallTime) => new() { WallTime = wallTime, FileVersion = FileVersion };

    /// <summary>An event at <paramref name="step"/> holding <paramref name="values"/> in one summary.</summary>
    public static Event SummaryEvent(double wallTime, long step, IEnumerable<Summary.Types.Value> values) =>
        new() { WallTime = wallTime, Step = step, Summary = new Summary { Value = { values } } };

    public static Summary.Types.Value Scalar(string tag, float value) => new() { Tag = tag, SimpleValue = value };

    /// <summary>An encoded image; the bytes are wrapped, not copied, and must not change until the event is written.</summary>
    public static Summary.Types.Value Image(string tag, byte[] encodedImage, int width, int height, int colorspace) => new()
    {
        Tag = tag,
        Image = new Summary.Types.Image
        {
            Height = height, Width = width, Colorspace = colorspace,
            EncodedImageString = UnsafeByteOperations.UnsafeWrap(encodedImage),
        },
    };

    /// <summary>
    /// A text-plugin value: a rank-0 DT_STRING tensor plus metadata naming the "text" plugin, as
    /// tensorboard/plugins/text/summary_v2.py (<c>text_pb</c>) writes it; its plugin content, an empty
    /// <c>TextPluginData{version=0}</c>, is empty bytes.
    /// </summary>
    public static Summary.Types.Value Text(string tag, string text) => new()
    {
        Tag = tag,
        Tensor = new TensorProto
        {
            Dtype = DataType.DtString,
            TensorShape = new TensorShapeProto(),
            StringVal = { ByteString.CopyFromUtf8(text) },
        },
        Metadata = new SummaryMetadata { PluginData = new SummaryMetadata.Types.PluginData { PluginName = TextPluginName } },
    };
}

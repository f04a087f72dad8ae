using MLNet.FastAi.Internal.Protobuf;

namespace MLNet.FastAi.Training.TensorBoard;

/// <summary>
/// Encodes <c>tensorboard.Event</c> messages. Field numbers are those of tensorboard/compat/proto/event.proto
/// (Event: wall_time=1, step=2, file_version=3, summary=5), summary.proto (Summary.value=1; Value: tag=1,
/// simple_value=2, image=4, tensor=8, metadata=9; Image: height=1, width=2, colorspace=3, encoded_image_string=4;
/// SummaryMetadata.plugin_data=1; PluginData: plugin_name=1, content=2), tensor.proto (TensorProto: dtype=1,
/// tensor_shape=2, string_val=8) and types.proto (DT_STRING=7).
/// </summary>
internal static class TensorBoardEventEncoder
{
    public const string FileVersion = "brain.Event:2";
    public const string TextPluginName = "text";
    private const int DtString = 7;

    /// <summary>The first record of every event file. Step stays unset (0), as TensorBoard's own writer leaves it.</summary>
    public static void WriteFileVersionEvent(ProtoWriter w, double wallTime)
    {
        w.WriteDouble(1, wallTime);
        w.WriteString(3, FileVersion);
    }

    /// <summary>Writes wall_time and step and opens the summary; add values, then close with <see cref="ProtoWriter.EndMessage"/>.</summary>
    public static MessageBookmark BeginSummaryEvent(ProtoWriter w, double wallTime, long step)
    {
        w.WriteDouble(1, wallTime);
        w.WriteInt64(2, step);
        return w.BeginMessage(5);
    }

    public static void WriteScalarValue(ProtoWriter w, string tag, float value)
    {
        var v = w.BeginMessage(1);
        w.WriteString(1, tag);
        w.WriteFloat(2, value);
        w.EndMessage(v);
    }

    public static void WriteImageValue(ProtoWriter w, string tag, ReadOnlySpan<byte> encodedImage, int width, int height, int colorspace)
    {
        var v = w.BeginMessage(1);
        w.WriteString(1, tag);
        var image = w.BeginMessage(4);
        w.WriteInt32(1, height);
        w.WriteInt32(2, width);
        w.WriteInt32(3, colorspace);
        w.WriteBytes(4, encodedImage);
        w.EndMessage(image);
        w.EndMessage(v);
    }

    /// <summary>
    /// A text-plugin value: a rank-0 DT_STRING tensor plus metadata naming the "text" plugin, as
    /// tensorboard/plugins/text/summary_v2.py (<c>text_pb</c>) writes it. The plugin content is an empty
    /// <c>TextPluginData{version=0}</c>.
    /// </summary>
    public static void WriteTextValue(ProtoWriter w, string tag, string text)
    {
        var v = w.BeginMessage(1);
        w.WriteString(1, tag);
        var tensor = w.BeginMessage(8);
        w.WriteInt32(1, DtString);
        w.EndMessage(w.BeginMessage(2)); // empty TensorShapeProto: a scalar
        w.WriteString(8, text);
        w.EndMessage(tensor);
        var metadata = w.BeginMessage(9);
        var pluginData = w.BeginMessage(1);
        w.WriteString(1, TextPluginName);
        w.WriteBytes(2, ReadOnlySpan<byte>.Empty);
        w.EndMessage(pluginData);
        w.EndMessage(metadata);
        w.EndMessage(v);
    }
}

using Microsoft.ML;
using Microsoft.ML.Data;

namespace MLNet.FastAi.Scoring;

/// <summary>
/// A stock ML.NET <c>OnnxTransformer</c> over in-memory model bytes that deletes its temporary copy of the model when it
/// is disposed.
/// </summary>
/// <remarks>
/// ML.NET 6.0's <c>ApplyOnnxModel(Stream)</c> writes the model to a file in the context's temporary folder and never
/// deletes it, even when the transformer is disposed: each fitted chain left a model-sized file behind (about 2.5 GB
/// over one run of this package's tests). A transformer loaded from a saved model owns its copy and deletes it on
/// Dispose, so the transformer is built through a private context whose temporary folder is removed at once, saved to
/// memory and loaded back with the caller's context: what the caller gets is the same stock transformer that
/// <c>mlContext.Model.Load</c> makes of the zip later.
/// </remarks>
internal static class OwnedOnnxTransformer
{
    public static ITransformer Fit(MLContext context, IDataView input, string[] outputColumns, string[] inputColumns, byte[] onnxModel)
    {
        try
        {
            return FitOnce(context, input, outputColumns, inputColumns, onnxModel);
        }
        catch (Exception e) when (IsTemporaryNameMistakenForOrtFormat(e))
        {
            // ML.NET names its temporary copy of the network Path.GetRandomFileName(), whose random extension is
            // ".ort" once in 36³, and ONNX Runtime then reads the file as its own ORT format and refuses it ("ORT model
            // verification failed", dotnet/machinelearning#7339). Another attempt draws another name.
            return FitOnce(context, input, outputColumns, inputColumns, onnxModel);
        }
    }

    private static bool IsTemporaryNameMistakenForOrtFormat(Exception e)
    {
        for (Exception? inner = e; inner is not null; inner = inner.InnerException)
            if (inner.Message.Contains("ORT model verification failed", StringComparison.Ordinal)) return true;
        return false;
    }

    private static ITransformer FitOnce(MLContext context, IDataView input, string[] outputColumns, string[] inputColumns, byte[] onnxModel)
    {
        string scratch = Path.Combine(context.TempFilePath ?? Path.GetTempPath(), "mlnet-fastai-onnx-" + Path.GetRandomFileName());
        Directory.CreateDirectory(scratch);
        try
        {
            // FallbackToCpu: the context may name a GPU for TorchSharp that the ONNX Runtime in use cannot drive.
            var builder = new MLContext { TempFilePath = scratch, GpuDeviceId = context.GpuDeviceId, FallbackToCpu = true };
            using var saved = new MemoryStream();
            using (var built = builder.Transforms.ApplyOnnxModel(outputColumns, inputColumns, new MemoryStream(onnxModel, writable: false)).Fit(input))
                builder.Model.Save(built, null, saved);
            saved.Position = 0;
            // The loaded copy lives until Dispose, in the folder the caller chose for ML.NET's temporary files.
            var owner = new MLContext { TempFilePath = context.TempFilePath, GpuDeviceId = context.GpuDeviceId, FallbackToCpu = true };
            return owner.Model.Load(saved, out _);
        }
        finally
        {
            try { Directory.Delete(scratch, recursive: true); }
            catch (IOException) { }  // Windows keeps a file open until its handle closes; nothing here depends on it.
            catch (UnauthorizedAccessException) { }
        }
    }
}

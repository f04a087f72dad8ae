using System.IO.Compression;
using System.Text.Json;
using MLNet.FastAi.Internal;
using MLNet.FastAi.Internal.Zip;
using MLNet.FastAi.Vision.Pretrained;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNet.FastAi.Training;

/// <summary>
/// fastai's <c>learn.save</c> and <c>learn.load</c>: checkpoints of a learner's weights, optimizer state and random
/// state, as zips of plain data that are checked entry by entry when read.
/// </summary>
public static class LearnerCheckpoints
{
    private const int CheckpointFormat = 1;

    /// <summary>
    /// Saves the weights, and by default the optimizer state, to <c>ModelDirectory/name.ckpt</c> (fastai's
    /// <c>learn.save</c>). The file is a zip of plain data — tensors in TorchSharp's format and JSON metadata — written
    /// beside the target and moved into place, so a crash never leaves a half-written checkpoint under the name.
    /// </summary>
    /// <returns>The checkpoint's path.</returns>
    /// <param name="learner">The learner to save.</param>
    /// <param name="name">A file name in <see cref="Learner.ModelDirectory"/> (".ckpt" added).</param>
    /// <param name="withOptimizer">Also save the optimizer's state, to resume training.</param>
    public static string Save(this Learner learner, string name, bool withOptimizer = true)
    {
        using var use = learner.Use(nameof(Save));
        return AtomicFile.Write(CheckpointPath(learner, name), file => WriteCheckpoint(learner, file, withOptimizer), durable: true);
    }

    private static void WriteCheckpoint(Learner learner, Stream file, bool withOptimizer)
    {
        // Frees the tensor handles made while writing (the optimizer state's views): a checkpoint every epoch must not leak.
        using var scope = NewDisposeScope();
        using var zip = new ZipArchive(file, ZipArchiveMode.Create, leaveOpen: true);
        WriteEntry(zip, "meta.json", s => JsonSerializer.Serialize(s, Metadata(learner, withOptimizer), JsonOptions));
        // Weights are stored, not deflated: they hardly compress (a tiny ResNet's 22.5 MB deflated, 21.3 MB stored)
        // and deflating took four times as long, which a run checkpointing every epoch pays every epoch. Adam's
        // moments do compress (to about half), so they stay deflated.
        WriteEntry(zip, "model.bin", s => TorchSharpStateDict.Write(s, learner.CnnModel.state_dict().Select(kv => (kv.Key, kv.Value))), CompressionLevel.NoCompression);
        if (!withOptimizer) return;
        WriteEntry(zip, "optimizer.bin", s => TorchSharpStateDict.Write(s,
            learner.Optimizer.State().SelectMany(st => new[] { (st.Name + "#avg", st.Average), (st.Name + "#sqr", st.SquareAverage) })));
        // The learner's random state (dropout masks) makes a resumed run repeat an uninterrupted one.
        var (key, rng) = learner.GeneratorState();
        using (rng) WriteEntry(zip, "rng.bin", s => TorchSharpStateDict.Write(s, new[] { (key, rng) }));
    }

    /// <summary>
    /// Loads a checkpoint written by <see cref="Save"/> (a name in <see cref="Learner.ModelDirectory"/> or a path). The
    /// checkpoint must come from the same architecture and classes; anything else, or a damaged file (each entry is
    /// checked against the CRC-32 the zip stores), is refused with an error naming the file and the first mismatch,
    /// leaving the learner unchanged.
    /// </summary>
    /// <param name="learner">The learner to load into; unchanged when the checkpoint is refused.</param>
    /// <param name="nameOrPath">A checkpoint name in <see cref="Learner.ModelDirectory"/>, or a path.</param>
    /// <param name="withOptimizer">Also load the optimizer's state when the checkpoint has it.</param>
    public static void Load(this Learner learner, string nameOrPath, bool withOptimizer = true)
    {
        using var use = learner.Use(nameof(Load));
        string path = File.Exists(nameOrPath) ? Path.GetFullPath(nameOrPath) : CheckpointPath(learner, nameOrPath);
        if (!File.Exists(path)) throw new FileNotFoundException($"Checkpoint '{path}' not found.", path);
        string what = $"Checkpoint '{path}'";
        Dictionary<string, Tensor>? weights = null, moments = null, rng = null;
        try
        {
            // Everything is read and checked first: a damaged entry found late must not leave the learner half-loaded.
            var (zip, meta) = OpenCheckpoint(path, what);
            using (zip)
            {
                CheckCompatible(learner, meta, what);
                weights = ReadEntry(zip, "model.bin", what, s => TorchSharpStateDict.Read(s, what + " (model.bin)"));
                StateDictCopier.Check(learner.CnnModel, weights, what);
                if (withOptimizer && meta.HasOptimizer)
                {
                    moments = ReadEntry(zip, "optimizer.bin", what, s => TorchSharpStateDict.Read(s, what + " (optimizer.bin)"));
                    CheckMoments(learner, moments, what);
                    if (zip.GetEntry("rng.bin") is not null)
                    {
                        rng = ReadEntry(zip, "rng.bin", what, s => TorchSharpStateDict.Read(s, what + " (rng.bin)"));
                        learner.CheckGeneratorState(rng, what);
                    }
                }
            }

            StateDictCopier.Load(learner.CnnModel, weights, what);
            if (meta.FrozenGroups != learner.FrozenGroups) learner.FreezeTo(meta.FrozenGroups);
            if (moments is null) return;
            var state = moments.Keys.Where(k => k.EndsWith("#avg", StringComparison.Ordinal)).Select(k => k[..^4])
                .ToDictionary(n => n, n => (moments[n + "#avg"], moments[n + "#sqr"]));
            learner.Optimizer.LoadState(state, meta.OptimizerSteps);
            if (rng is not null) learner.RestoreGeneratorState(rng);
            for (int g = 0; g < Math.Min(meta.Hypers.Count, learner.GroupCount); g++)
            {
                var h = meta.Hypers[g];
                (learner.Hypers[g].LearningRate, learner.Hypers[g].Momentum, learner.Hypers[g].SquareMomentum, learner.Hypers[g].Epsilon, learner.Hypers[g].WeightDecay) =
                    (h[0], h[1], h[2], h[3], h[4]);
            }
        }
        finally
        {
            foreach (var tensors in new[] { weights, moments, rng })
                if (tensors is not null) foreach (var t in tensors.Values) t.Dispose();
        }
    }

    /// <summary>Adam's moments: an average and a square average for parameters of this model, with their shapes.</summary>
    private static void CheckMoments(Learner learner, Dictionary<string, Tensor> moments, string what)
    {
        var shapes = learner.Groups.SelectMany(g => g).ToDictionary(p => p.Name, p => p.Parameter.shape);
        foreach (var (key, value) in moments)
        {
            int mark = key.LastIndexOf('#');
            string name = mark < 0 ? key : key[..mark], kind = mark < 0 ? "" : key[(mark + 1)..];
            if (kind is not ("avg" or "sqr") || !shapes.TryGetValue(name, out var shape))
                throw new InvalidDataException($"{what} is damaged: 'optimizer.bin' holds '{key}', which is not a moment of a parameter of this model.");
            if (!value.shape.SequenceEqual(shape))
                throw new InvalidDataException($"{what} is damaged: optimizer state '{key}' has shape [{string.Join(", ", value.shape)}] but the parameter is [{string.Join(", ", shape)}].");
            string partner = name + (kind == "avg" ? "#sqr" : "#avg");
            if (!moments.ContainsKey(partner))
                throw new InvalidDataException($"{what} is damaged: 'optimizer.bin' has '{key}' without '{partner}'.");
        }
    }

    private static string CheckpointPath(Learner learner, string name)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        if (name.IndexOfAny(Path.GetInvalidFileNameChars()) >= 0 || name.Contains(".."))
            throw new ArgumentException($"Checkpoint name '{name}' is not a plain file name.", nameof(name));
        return Path.Combine(learner.ModelDirectory, name.EndsWith(".ckpt", StringComparison.Ordinal) ? name : name + ".ckpt");
    }

    private static CheckpointMetadata Metadata(Learner learner, bool withOptimizer) => new()
    {
        Format = CheckpointFormat,
        Architecture = learner.Options.Architecture.Name,
        BlocksPerStage = learner.Options.Architecture.BlocksPerStage.ToList(),
        Classes = learner.Data.Classes.ToList(),
        ImageWidth = learner.Data.Pipeline.Width,
        ImageHeight = learner.Data.Pipeline.Height,
        Resize = learner.Data.Pipeline.Resize.ToString(),
        NormalizationMean = learner.Normalization.Mean.ToList(),
        NormalizationStd = learner.Normalization.Std.ToList(),
        FrozenGroups = learner.FrozenGroups,
        HasOptimizer = withOptimizer,
        OptimizerSteps = withOptimizer ? learner.Optimizer.StepCount : 0,
        Hypers = learner.Hypers.Select(h => new List<double> { h.LearningRate, h.Momentum, h.SquareMomentum, h.Epsilon, h.WeightDecay }).ToList(),
    };

    private static void CheckCompatible(Learner learner, CheckpointMetadata meta, string what)
    {
        if (!meta.BlocksPerStage.SequenceEqual(learner.Options.Architecture.BlocksPerStage))
            throw new InvalidDataException($"{what} holds a {meta.Architecture} [{string.Join(", ", meta.BlocksPerStage)}] but this learner is {learner.Options.Architecture}.");
        if (!meta.Classes.SequenceEqual(learner.Data.Classes))
            throw new InvalidDataException($"{what} was trained on classes [{string.Join(", ", meta.Classes)}] but this learner has [{string.Join(", ", learner.Data.Classes)}].");
    }

    /// <summary>
    /// Opens a checkpoint and reads its metadata, refusing a file that is not a zip, lacks or garbles its metadata, or
    /// has another format version. The caller disposes the archive.
    /// </summary>
    internal static (ZipArchive Zip, CheckpointMetadata Meta) OpenCheckpoint(string path, string what)
    {
        var zip = CheckedZip.OpenRead(path, what);
        try
        {
            var meta = ReadEntry(zip, "meta.json", what, s => JsonSerializer.Deserialize<CheckpointMetadata>(s, JsonOptions))
                ?? throw new InvalidDataException($"{what} has empty metadata.");
            if (meta.Format != CheckpointFormat)
                throw new InvalidDataException($"{what} has format {meta.Format}; this version reads format {CheckpointFormat}.");
            CheckShape(meta, what);
            return (zip, meta);
        }
        catch
        {
            zip.Dispose();
            throw;
        }
    }

    /// <summary>Metadata that parsed as JSON but could not have been written by <see cref="Save"/> (nulls, short rows).</summary>
    private static void CheckShape(CheckpointMetadata meta, string what)
    {
        string? problem =
            meta.Architecture is null || meta.BlocksPerStage is null || meta.Classes is null || meta.Resize is null
            || meta.NormalizationMean is null || meta.NormalizationStd is null || meta.Hypers is null ? "a required field is null"
            : meta.Classes.Any(c => c is null) ? "a class name is null"
            : meta.Hypers.Any(h => h is not { Count: 5 } || h.Any(v => !double.IsFinite(v))) ? "a parameter group's hyper-parameters are not five finite numbers"
            : meta.OptimizerSteps < 0 || meta.FrozenGroups < 0 ? "a count is negative"
            : null;
        if (problem is not null) throw new InvalidDataException($"{what} has unusable metadata: {problem}.");
    }

    private static void WriteEntry(ZipArchive zip, string name, Action<Stream> write, CompressionLevel compression = CompressionLevel.Fastest)
    {
        using var stream = zip.CreateEntry(name, compression).Open();
        write(stream);
    }

    internal static T ReadEntry<T>(ZipArchive zip, string name, string what, Func<Stream, T> read)
    {
        var entry = zip.GetEntry(name) ?? throw new InvalidDataException($"{what} has no '{name}'; it is not a checkpoint of this package.");
        try
        {
            using var stream = CrcCheckingStream.Open(entry);
            using var buffer = new MemoryStream();
            stream.CopyTo(buffer);
            buffer.Position = 0;
            return read(buffer);
        }
        catch (Exception e) when (e is InvalidDataException or JsonException or IOException or NotSupportedException or OverflowException)
        {
            throw new InvalidDataException($"{what} is damaged: '{name}' could not be read ({e.Message}).", e);
        }
    }

    private static readonly JsonSerializerOptions JsonOptions = new() { WriteIndented = true };

    internal sealed class CheckpointMetadata
    {
        public int Format { get; set; }
        public string Architecture { get; set; } = "";
        public List<int> BlocksPerStage { get; set; } = new();
        public List<string> Classes { get; set; } = new();
        public int ImageWidth { get; set; }
        public int ImageHeight { get; set; }
        public string Resize { get; set; } = "";
        public List<float> NormalizationMean { get; set; } = new();
        public List<float> NormalizationStd { get; set; } = new();
        public int FrozenGroups { get; set; }
        public bool HasOptimizer { get; set; }
        public long OptimizerSteps { get; set; }
        public List<List<double>> Hypers { get; set; } = new();
    }
}

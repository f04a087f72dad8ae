using Microsoft.ML;
using MLNet.FastAi.Data.Sources;

namespace MLNet.FastAi.Data;

/// <summary>
/// One subset of a dataset (training, validation or test): its images — files, or rows of an ML.NET column — and,
/// when known, their labels.
/// </summary>
public sealed class ImageSplit
{
    internal ImageSplit(string name, IReadOnlyList<string> paths, IReadOnlyList<int> labels, IReadOnlyList<string> classes)
        : this(name, new FileImages(paths), labels, classes)
    {
    }

    internal ImageSplit(string name, ImageSource source, IReadOnlyList<int> labels, IReadOnlyList<string> classes)
    {
        if (source.Count != labels.Count) throw new ArgumentException("Every image needs a label index (-1 for none).");
        Name = name;
        Source = source;
        Paths = source.Names;
        LabelIndices = labels;
        Classes = classes;
    }

    /// <summary>Where the images come from, and how each is decoded and shown.</summary>
    internal ImageSource Source { get; }

    /// <summary>The images at <paramref name="positions"/>, with their labels.</summary>
    internal ImageSplit Subset(IReadOnlyList<int> positions) =>
        new(Name, Source.Subset(positions), positions.Select(p => LabelIndices[p]).ToList(), Classes);

    /// <summary>"train", "valid" or "test".</summary>
    public string Name { get; }

    /// <summary>
    /// The images' names, in a fixed order: their full paths, or for images from an ML.NET column (loaded images or
    /// encoded bytes) their rows ("row 4 of the training data").
    /// </summary>
    public IReadOnlyList<string> Paths { get; }

    /// <summary>Index of each image's class in <see cref="Classes"/>, or -1 where the image has no label.</summary>
    public IReadOnlyList<int> LabelIndices { get; }

    /// <summary>The class names, shared by every split of the dataset.</summary>
    public IReadOnlyList<string> Classes { get; }

    /// <summary>Number of images.</summary>
    public int Count => Paths.Count;

    /// <summary>True when every image has a label.</summary>
    public bool IsLabeled => LabelIndices.All(l => l >= 0);

    /// <summary>The label of image <paramref name="index"/>, or null.</summary>
    public string? LabelOf(int index) => LabelIndices[index] >= 0 ? Classes[LabelIndices[index]] : null;

    /// <summary>
    /// This split as an ML.NET <see cref="IDataView"/> with a text column <c>ImagePath</c> and a text column <c>Label</c>
    /// (empty for unlabeled images), ready for <c>MapValueToKey("Label")</c>.
    /// </summary>
    /// <param name="context">The ML.NET context.</param>
    /// <param name="labelAsKey">
    /// Make <c>Label</c> a key whose values are <see cref="Classes"/> in order — what <c>Evaluate</c> needs for a model
    /// saved by a learner of this dataset. Unlabelled images get the missing key.
    /// </param>
    /// <exception cref="InvalidOperationException">The images came from an ML.NET column: they have no paths; use that view.</exception>
    public IDataView ToDataView(MLContext context, bool labelAsKey = false)
    {
        if (Source is not FileImages)
            throw new InvalidOperationException($"The {Name} images came from an ML.NET column{Source.Description} and have no file paths to list; score or evaluate the view they came from.");
        var view = context.Data.LoadFromEnumerable(Enumerable.Range(0, Count).Select(i => new ImageRow { ImagePath = Paths[i], Label = LabelOf(i) ?? "" }));
        if (!labelAsKey) return view;
        var keys = context.Data.LoadFromEnumerable(Classes.Select(c => new ClassRow { Label = c }));
        return context.Transforms.Conversion.MapValueToKey(nameof(ImageRow.Label), keyData: keys).Fit(view).Transform(view);
    }

    private sealed class ClassRow
    {
        public string Label { get; set; } = "";
    }

    /// <summary>The rows of <see cref="ToDataView"/>.</summary>
    public sealed class ImageRow
    {
        /// <summary>Full path of the image file.</summary>
        public string ImagePath { get; set; } = "";

        /// <summary>Class name; empty when unknown.</summary>
        public string Label { get; set; } = "";
    }

    /// <inheritdoc/>
    public override string ToString() => $"{Name}: {Count} images";
}

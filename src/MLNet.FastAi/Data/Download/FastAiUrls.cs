namespace MLNet.FastAi.Data.Download;

/// <summary>
/// The image datasets fastai publishes (its <c>URLs</c> class), with the archive sizes and MD5 digests fastai
/// checks downloads against. Pass one to <see cref="UntarData.Get(FastAiDataset, string?, bool, IProgress{DownloadProgress}?, CancellationToken)"/>.
/// </summary>
public static class FastAiUrls
{
    private const string ImageClassification = "https://s3.amazonaws.com/fast-ai-imageclas/";
    private const string Samples = "https://s3.amazonaws.com/fast-ai-sample/";

    /// <summary>The full MNIST handwritten digits as PNGs: <c>training/&lt;digit&gt;</c> (60,000) and <c>testing/&lt;digit&gt;</c> (10,000). fastai's <c>URLs.MNIST</c>; 15,683,414 bytes, extracts to <c>mnist_png</c>.</summary>
    public static FastAiDataset Mnist { get; } = new("MNIST", new Uri(ImageClassification + "mnist_png.tgz"), 15683414, "03639f83c4e3d19e0a3a53a8a997c487", "mnist_png");

    /// <summary>Threes and sevens from MNIST in <c>train</c> and <c>valid</c> folders, with <c>labels.csv</c>. fastai's <c>URLs.MNIST_SAMPLE</c>; 3,214,948 bytes, extracts to <c>mnist_sample</c>.</summary>
    public static FastAiDataset MnistSample { get; } = new("MNIST_SAMPLE", new Uri(Samples + "mnist_sample.tgz"), 3214948, "2dbc7ec6f9259b583af0072c55816a88", "mnist_sample");

    /// <summary>A few hundred threes and sevens from MNIST in <c>train</c>, <c>valid</c> and <c>test</c> folders. fastai's <c>URLs.MNIST_TINY</c>; 342,207 bytes, extracts to <c>mnist_tiny</c>.</summary>
    public static FastAiDataset MnistTiny { get; } = new("MNIST_TINY", new Uri(Samples + "mnist_tiny.tgz"), 342207, "56143e8f24db90d925d82a5a74141875", "mnist_tiny");

    /// <summary>MNIST_TINY with images of varying sizes. fastai's <c>URLs.MNIST_VAR_SIZE_TINY</c>; 565,372 bytes, extracts to <c>mnist_var_size_tiny</c>.</summary>
    public static FastAiDataset MnistVarSizeTiny { get; } = new("MNIST_VAR_SIZE_TINY", new Uri(ImageClassification + "mnist_var_size_tiny.tgz"), 565372, "b71a930f4eb744a4a143a6c7ff7ed67f", "mnist_var_size_tiny");

    /// <summary>CIFAR-10: 60,000 32×32 colour images in 10 classes, in <c>train</c> and <c>test</c> folders. fastai's <c>URLs.CIFAR</c>; 168,168,549 bytes, extracts to <c>cifar10</c>.</summary>
    public static FastAiDataset Cifar { get; } = new("CIFAR", new Uri(Samples + "cifar10.tgz"), 168168549, "a5f8c31371b63a406b23368042812d3c", "cifar10");

    /// <summary>CIFAR-100: 60,000 32×32 colour images in 100 classes. fastai's <c>URLs.CIFAR_100</c>; 169,168,619 bytes, extracts to <c>cifar100</c>.</summary>
    public static FastAiDataset Cifar100 { get; } = new("CIFAR_100", new Uri(ImageClassification + "cifar100.tgz"), 169168619, "e5e65dcb54b9d3913f7b8a9ad6607e62", "cifar100");

    /// <summary>Oxford-IIIT Pet: 37 cat and dog breeds, labelled by file name in <c>images</c>. fastai's <c>URLs.PETS</c>; 811,706,944 bytes, extracts to <c>oxford-iiit-pet</c>.</summary>
    public static FastAiDataset Pets { get; } = new("PETS", new Uri(ImageClassification + "oxford-iiit-pet.tgz"), 811706944, "e4db5c768afd933bb91f5f594d7417a4", "oxford-iiit-pet");

    /// <summary>Imagenette: 10 easy ImageNet classes at full size, in <c>train</c> and <c>val</c> folders. fastai's <c>URLs.IMAGENETTE</c>; 1,557,161,267 bytes, extracts to <c>imagenette2</c>.</summary>
    public static FastAiDataset Imagenette { get; } = new("IMAGENETTE", new Uri(ImageClassification + "imagenette2.tgz"), 1557161267, "2c774ecb40005b35d7937d50f5d42336", "imagenette2");

    /// <summary>Imagenette with the shorter side resized to 160 pixels. fastai's <c>URLs.IMAGENETTE_160</c>; 99,003,388 bytes, extracts to <c>imagenette2-160</c>.</summary>
    public static FastAiDataset Imagenette160 { get; } = new("IMAGENETTE_160", new Uri(ImageClassification + "imagenette2-160.tgz"), 99003388, "c475f8f7617a200ba35b9facc48443c3", "imagenette2-160");

    /// <summary>Imagenette with the shorter side resized to 320 pixels. fastai's <c>URLs.IMAGENETTE_320</c>; 341,663,724 bytes, extracts to <c>imagenette2-320</c>.</summary>
    public static FastAiDataset Imagenette320 { get; } = new("IMAGENETTE_320", new Uri(ImageClassification + "imagenette2-320.tgz"), 341663724, "1f1f74f133caff120e575856659b87a2", "imagenette2-320");

    /// <summary>Imagewoof: 10 hard-to-tell dog breeds from ImageNet at full size. fastai's <c>URLs.IMAGEWOOF</c>; 1,343,715,595 bytes, extracts to <c>imagewoof2</c>.</summary>
    public static FastAiDataset Imagewoof { get; } = new("IMAGEWOOF", new Uri(ImageClassification + "imagewoof2.tgz"), 1343715595, "2cc1c1e36e20cb6fd24ffb978edcb487", "imagewoof2");

    /// <summary>Imagewoof with the shorter side resized to 160 pixels. fastai's <c>URLs.IMAGEWOOF_160</c>; 92,612,825 bytes, extracts to <c>imagewoof2-160</c>.</summary>
    public static FastAiDataset Imagewoof160 { get; } = new("IMAGEWOOF_160", new Uri(ImageClassification + "imagewoof2-160.tgz"), 92612825, "3559b194123981a540b87132dbda412f", "imagewoof2-160");

    /// <summary>Imagewoof with the shorter side resized to 320 pixels. fastai's <c>URLs.IMAGEWOOF_320</c>; 328,387,740 bytes, extracts to <c>imagewoof2-320</c>.</summary>
    public static FastAiDataset Imagewoof320 { get; } = new("IMAGEWOOF_320", new Uri(ImageClassification + "imagewoof2-320.tgz"), 328387740, "7a1fd92672a559a85de76e4810a20c21", "imagewoof2-320");

    /// <summary>Imagewang: Imagenette and Imagewoof combined, for semi-supervised learning. fastai's <c>URLs.IMAGEWANG</c>; 2,900,347,689 bytes, extracts to <c>imagewang</c>.</summary>
    public static FastAiDataset Imagewang { get; } = new("IMAGEWANG", new Uri(ImageClassification + "imagewang.tgz"), 2900347689, "2b7776bac0fc95db72ac8a3b091a3e30", "imagewang");

    /// <summary>Imagewang with the shorter side resized to 160 pixels. fastai's <c>URLs.IMAGEWANG_160</c>; 191,498,213 bytes, extracts to <c>imagewang-160</c>.</summary>
    public static FastAiDataset Imagewang160 { get; } = new("IMAGEWANG_160", new Uri(ImageClassification + "imagewang-160.tgz"), 191498213, "dab9b1d97b95574ac64122a19bc74ca1", "imagewang-160");

    /// <summary>Imagewang with the shorter side resized to 320 pixels. fastai's <c>URLs.IMAGEWANG_320</c>; 669,826,647 bytes, extracts to <c>imagewang-320</c>.</summary>
    public static FastAiDataset Imagewang320 { get; } = new("IMAGEWANG_320", new Uri(ImageClassification + "imagewang-320.tgz"), 669826647, "fff8ac034d60e14fcf7789845e625263", "imagewang-320");

    /// <summary>Oxford 102 Flowers: 102 flower categories. fastai's <c>URLs.FLOWERS</c>; 345,236,087 bytes, extracts to <c>oxford-102-flowers</c>.</summary>
    public static FastAiDataset Flowers { get; } = new("FLOWERS", new Uri(ImageClassification + "oxford-102-flowers.tgz"), 345236087, "5666e01c1311b4c67fcf20d2b3850a88", "oxford-102-flowers");

    /// <summary>Caltech 101: pictures of objects in 101 categories. fastai's <c>URLs.CALTECH_101</c>; 131,740,031 bytes, extracts to <c>caltech_101</c>.</summary>
    public static FastAiDataset Caltech101 { get; } = new("CALTECH_101", new Uri(ImageClassification + "caltech_101.tgz"), 131740031, "d673425306e98ee4619fcdeef8a0e876", "caltech_101");

    /// <summary>Dogs vs. Cats from the Kaggle competition, in <c>train</c> and <c>valid</c> folders. fastai's <c>URLs.DOGS</c>; 839,285,364 bytes, extracts to <c>dogscats</c>.</summary>
    public static FastAiDataset Dogs { get; } = new("DOGS", new Uri(Samples + "dogscats.tgz"), 839285364, "3e483c8d6ef2175e9d395a6027eb92b7", "dogscats");

    /// <summary>Food-101: 101,000 pictures of 101 dishes. fastai's <c>URLs.FOOD</c>; 5,686,607,260 bytes, extracts to <c>food-101</c>.</summary>
    public static FastAiDataset Food { get; } = new("FOOD", new Uri(ImageClassification + "food-101.tgz"), 5686607260, "1a540ebf1fb40b2bf3f2294234ba7907", "food-101");

    /// <summary>Stanford Cars: 196 car models. fastai's <c>URLs.CARS</c>; 1,957,803,273 bytes, extracts to <c>stanford-cars</c>.</summary>
    public static FastAiDataset Cars { get; } = new("CARS", new Uri(ImageClassification + "stanford-cars.tgz"), 1957803273, "9045d6673c9ced0889f41816f6bf2f9f", "stanford-cars");

    /// <summary>Caltech-UCSD Birds-200-2011: 200 bird species. fastai's <c>URLs.CUB_200_2011</c>; 1,150,585,339 bytes, extracts to <c>CUB_200_2011</c>.</summary>
    public static FastAiDataset Cub200_2011 { get; } = new("CUB_200_2011", new Uri(ImageClassification + "CUB_200_2011.tgz"), 1150585339, "d2acaa99439dff0483c7bbac1bfe2a92", "CUB_200_2011");

    /// <summary>A sample of the Kaggle Planet satellite images with multiple labels per image. fastai's <c>URLs.PLANET_SAMPLE</c>; 15,523,994 bytes, extracts to <c>planet_sample</c>.</summary>
    public static FastAiDataset PlanetSample { get; } = new("PLANET_SAMPLE", new Uri(Samples + "planet_sample.tgz"), 15523994, "8bfb174b3162f07fbde09b54555bdb00", "planet_sample");

    /// <summary>A tiny sample of the Kaggle Planet satellite images with multiple labels per image. fastai's <c>URLs.PLANET_TINY</c>; 997,569 bytes, extracts to <c>planet_tiny</c>.</summary>
    public static FastAiDataset PlanetTiny { get; } = new("PLANET_TINY", new Uri(Samples + "planet_tiny.tgz"), 997569, "490873c5683454d4b2611fb1f00a68a9", "planet_tiny");

    /// <summary>Every dataset listed here, in declaration order.</summary>
    public static IReadOnlyList<FastAiDataset> All { get; } =
    [
        Mnist,
        MnistSample,
        MnistTiny,
        MnistVarSizeTiny,
        Cifar,
        Cifar100,
        Pets,
        Imagenette,
        Imagenette160,
        Imagenette320,
        Imagewoof,
        Imagewoof160,
        Imagewoof320,
        Imagewang,
        Imagewang160,
        Imagewang320,
        Flowers,
        Caltech101,
        Dogs,
        Food,
        Cars,
        Cub200_2011,
        PlanetSample,
        PlanetTiny,
    ];

    /// <summary>The listed dataset published at <paramref name="url"/>, or <see langword="null"/>.</summary>
    internal static FastAiDataset? FindByUrl(Uri url) =>
        All.FirstOrDefault(d => Uri.Compare(d.Url, url, UriComponents.HttpRequestUrl, UriFormat.Unescaped, StringComparison.OrdinalIgnoreCase) == 0);
}

using MLNet.FastAi.Internal;
using MLNet.FastAi.Data.Batching;
using TorchSharp;
using static TorchSharp.torch;
using static TorchSharp.torch.nn.functional;

namespace MLNet.FastAi.Data.Augmentation;

/// <summary>
/// Applies <see cref="AugmentationOptions"/> to a batch of images in 0..1 on their device. Random draws are per image
/// (as fastai's), from a seeded CPU generator so that a seed reproduces the same augmentations on any device.
/// </summary>
/// <remarks>
/// fastai composes its geometric transforms into one sampling grid; this goes one step further. Flip, rotation, zoom
/// and the perspective warp of every image are multiplied into a single 3×3 projective matrix on the host (a few
/// hundred floating-point operations for a batch), which travels to the device together with the lighting parameters
/// in one copy. On the device a batch then costs a handful of kernels whatever the options: one matrix product for the
/// grid, one <c>grid_sample</c> (bilinear, reflection padding, aligned corners — fastai's defaults) and three for the
/// lighting, which works in logit space as fastai's does. On a GPU, where each kernel launch costs about as much as
/// the arithmetic of a small batch, that keeps augmentation a small fraction of a training step. Presizing
/// (<see cref="BatchGeometry"/>) joins the same matrix: the square taken from a squished photo and the random resized
/// crop are two more affine factors, and the grid is made at the output size, so the images are resampled once.
/// </remarks>
internal sealed class BatchAugmenter : IDisposable
{
    private const int Draws = 16;
    private const int GeometryDraws = 4;
    private static readonly float[] Identity = { 1, 0, 0, 0, 1, 0, 0, 0, 1 };
    private readonly AugmentationOptions? _options;
    private Tensor? _baseGrid;

    /// <param name="options">The augmentation, or null for presizing alone.</param>
    public BatchAugmenter(AugmentationOptions? options)
    {
        options?.Validate();
        _options = options;
    }

    /// <summary>
    /// Augments <paramref name="images"/> [B, C, H, W] (float, 0..1) and, with a <paramref name="geometry"/>, crops
    /// them to its output size; the result lives in the caller's dispose scope.
    /// </summary>
    /// <param name="images">The batch.</param>
    /// <param name="generator">Source of every random draw.</param>
    /// <param name="geometry">Presizing, or null.</param>
    /// <param name="sourceSizes">With <paramref name="geometry"/>: each image's original size, for the square crop.</param>
    public Tensor Apply(Tensor images, Generator generator, BatchGeometry? geometry = null, IReadOnlyList<(int Width, int Height)>? sourceSizes = null)
    {
        int batch = (int)images.shape[0];
        long height = geometry?.OutputSize ?? images.shape[2], width = geometry?.OutputSize ?? images.shape[3];
        // Every random number of the batch is drawn up front, on the CPU, in a fixed order: the augmentation's, then the crops'.
        float[]? u = _options is null ? null : Draw(generator, batch, Draws);
        float[]? g = geometry is { Centered: false } ? Draw(generator, batch, GeometryDraws) : null;

        // Per image: the 3×3 matrix from output to input coordinates (9 values), then the lighting shift and scale.
        var parameters = new float[batch * 11];
        for (int i = 0; i < batch; i++)
        {
            // Typed: a bare null would become an empty ArraySegment through its implicit conversion from arrays.
            IReadOnlyList<float>? row = u is null ? null : (IReadOnlyList<float>)new ArraySegment<float>(u, i * Draws, Draws);
            var matrix = row is null ? Identity : Projective(row);
            if (geometry is not null)
            {
                IReadOnlyList<float>? crop = g is null ? null : (IReadOnlyList<float>)new ArraySegment<float>(g, i * GeometryDraws, GeometryDraws);
                matrix = Multiply(Crop(geometry, sourceSizes![i], crop), matrix);
            }
            matrix.CopyTo(parameters.AsSpan(i * 11, 9));
            (parameters[i * 11 + 9], parameters[i * 11 + 10]) = row is null ? (0f, 1f) : Lighting(row);
        }
        using var packed = tensor(parameters, new long[] { batch, 11 });
        // From pinned memory the copy is asynchronous, so the host does not wait for the GPU to drain its queue.
        var onDevice = images.device.type == DeviceType.CUDA ? packed.pin_memory().to(images.device, non_blocking: true) : packed;

        var matrices = onDevice.narrow(1, 0, 9).view(batch, 3, 3);
        var coordinates = BaseGrid(height, width, images.device).matmul(matrices.transpose(1, 2));   // [B, H·W, 3]
        var grid = (coordinates.narrow(2, 0, 2) / coordinates.narrow(2, 2, 1)).view(batch, height, width, 2);
        var output = grid_sample(Prefiltered(images, geometry, parameters, batch), grid, GridSampleMode.Bilinear, GridSamplePaddingMode.Reflection, align_corners: true);
        if (_options is null || _options.MaxLighting <= 0) return output;

        var shift = onDevice.narrow(1, 9, 1).view(batch, 1, 1, 1);
        var scale = onDevice.narrow(1, 10, 1).view(batch, 1, 1, 1);
        return addcmul(shift, output.logit(1e-7), scale, KeptScalars.One).sigmoid_();
    }

    /// <summary>
    /// fastai's smoother downward resampling (its <c>_grid_sample</c>): when even the batch's smallest crop covers more
    /// than twice the output's pixels, the presized images are first averaged down (area interpolation) so that it
    /// covers twice, since bilinear sampling that shrinks further skips pixels and aliases. Below that, the images
    /// are sampled as they are: averaging the whole image down by a fixed ratio would shrink a crop of part of it
    /// under the output size and blur it (measured: 1.7 points less accuracy at 128 → 64 px). Grid coordinates are
    /// relative, so they need no change.
    /// </summary>
    private static Tensor Prefiltered(Tensor images, BatchGeometry? geometry, float[] parameters, int batch)
    {
        if (geometry is null) return images;
        long height = images.shape[2], width = images.shape[3];
        double smallestCrop = double.MaxValue;
        for (int i = 0; i < batch; i++)
        {
            // The linear part's determinant is the crop's share of the image's area (rotation keeps it, zoom shrinks it).
            int m = i * 11;
            double share = Math.Abs(parameters[m] * parameters[m + 4] - parameters[m + 1] * parameters[m + 3]);
            smallestCrop = Math.Min(smallestCrop, Math.Sqrt(share * height * width));
        }
        double shrink = smallestCrop / (2.0 * geometry.OutputSize);
        if (shrink <= 1) return images;
        return interpolate(images, new long[] { (long)Math.Ceiling(height / shrink), (long)Math.Ceiling(width / shrink) }, mode: InterpolationMode.Area);
    }

    private static float[] Draw(Generator generator, int batch, int perImage)
    {
        using var draws = rand(new long[] { batch, perImage }, generator: generator);
        return draws.data<float>().ToArray();
    }

    /// <summary>
    /// Presizing's crop for one image, from output to cached-image coordinates in [-1, 1]: first the square of the
    /// original proportions inside the squished photo (at a random place along its longer side), then a random square
    /// of at least <see cref="BatchGeometry.MinScale"/> of its area (fastai's <c>RandomResizedCropGPU</c> with
    /// <c>ratio=(1,1)</c>, drawn per image).
    /// </summary>
    private static float[] Crop(BatchGeometry geometry, (int Width, int Height) source, IReadOnlyList<float>? u)
    {
        double Draw(int k) => u is null ? 0.5 : u[k];
        double scaleX = 1, scaleY = 1, centreX = 0, centreY = 0;
        if (geometry.CropItems && source.Width > 0 && source.Height > 0 && source.Width != source.Height)
        {
            double aspect = (double)source.Width / source.Height;
            if (aspect > 1) { scaleX = 1 / aspect; centreX = (2 * Draw(0) - 1) * (1 - scaleX); }
            else { scaleY = aspect; centreY = (2 * Draw(0) - 1) * (1 - scaleY); }
        }
        double side = u is null ? 1 : Math.Sqrt(geometry.MinScale + u[1] * (1 - geometry.MinScale));
        double offsetX = (2 * Draw(2) - 1) * (1 - side), offsetY = (2 * Draw(3) - 1) * (1 - side);
        // The item square, then the resized crop inside it.
        return new[]
        {
            (float)(scaleX * side), 0f, (float)(centreX + scaleX * offsetX),
            0f, (float)(scaleY * side), (float)(centreY + scaleY * offsetY),
            0f, 0f, 1f,
        };
    }

    /// <summary>The 3×3 product <paramref name="a"/>·<paramref name="b"/> (row-major), in float.</summary>
    private static float[] Multiply(IReadOnlyList<double> a, IReadOnlyList<double> b)
    {
        var product = new float[9];
        for (int r = 0; r < 3; r++)
            for (int c = 0; c < 3; c++)
                product[r * 3 + c] = (float)(a[r * 3] * b[c] + a[r * 3 + 1] * b[3 + c] + a[r * 3 + 2] * b[6 + c]);
        return product;
    }

    private static float[] Multiply(float[] a, float[] b) => Multiply(a.Select(v => (double)v).ToArray(), b.Select(v => (double)v).ToArray());

    /// <summary>
    /// fastai's flip, rotate, zoom and warp for one image, as the product H·A of the warp's homography and the affine
    /// part, mapping output to input coordinates in [-1, 1].
    /// </summary>
    private float[] Projective(IReadOnlyList<float> u)
    {
        var o = _options!;
        double Uniform(int k, double low, double high) => low + u[k] * (high - low);
        bool Happens(int k, double p) => u[k] < p;

        double flip = o.DoFlip && Happens(1, 0.5) ? -1 : 1;
        double angle = Happens(3, o.ProbabilityAffine) ? Uniform(2, -o.MaxRotate, o.MaxRotate) * Math.PI / 180 : 0;
        double zoom = Happens(5, o.ProbabilityAffine) ? Uniform(4, o.MinZoom, o.MaxZoom) : 1;
        double centreX = Uniform(6, -1, 1) * (1 - 1 / zoom);
        double centreY = Uniform(7, -1, 1) * (1 - 1 / zoom);
        // Dihedral symmetry: a vertical flip on top of the horizontal one covers the square's 8 symmetries.
        double flipY = o.FlipVertical && Happens(8, 0.5) ? -1 : 1;
        double cos = Math.Cos(angle), sin = Math.Sin(angle);
        var affine = new double[9]
        {
            cos * flip / zoom, -sin / zoom, centreX,
            flipY * sin * flip / zoom, flipY * cos / zoom, flipY * centreY,
            0, 0, 1,
        };
        double[] warp = o.MaxWarp > 0 && Happens(9, o.ProbabilityAffine)
            ? Homography(Uniform(10, -o.MaxWarp, o.MaxWarp), Uniform(11, -o.MaxWarp, o.MaxWarp))
            : new double[] { 1, 0, 0, 0, 1, 0, 0, 0, 1 };
        return Multiply(warp, affine);
    }

    /// <summary>
    /// fastai's warp: the perspective transform taking the square's corners, moved by ±magnitude, back to the corners
    /// (-1,-1), (-1,1), (1,-1), (1,1); solved as the usual 8×8 linear system.
    /// </summary>
    private static double[] Homography(double mx, double my)
    {
        double[] sourceX = { -1, -1, 1, 1 }, sourceY = { -1, 1, -1, 1 };
        double[] targetX = { -(1 + my), -(1 - my), 1 + my, 1 - my };
        double[] targetY = { -(1 - mx), 1 + mx, -(1 + mx), 1 - mx };
        var a = new double[8, 9];
        for (int k = 0; k < 4; k++)
        {
            double tx = targetX[k], ty = targetY[k];
            double[] rowX = { tx, ty, 1, 0, 0, 0, -tx * sourceX[k], -ty * sourceX[k], sourceX[k] };
            double[] rowY = { 0, 0, 0, tx, ty, 1, -tx * sourceY[k], -ty * sourceY[k], sourceY[k] };
            for (int c = 0; c < 9; c++) { a[k, c] = rowX[c]; a[4 + k, c] = rowY[c]; }
        }
        var h = SolveAugmented(a);
        return new[] { h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7], 1.0 };
    }

    /// <summary>Gaussian elimination with partial pivoting on an n×(n+1) augmented matrix.</summary>
    private static double[] SolveAugmented(double[,] a)
    {
        int n = a.GetLength(0);
        for (int col = 0; col < n; col++)
        {
            int pivot = col;
            for (int r = col + 1; r < n; r++) if (Math.Abs(a[r, col]) > Math.Abs(a[pivot, col])) pivot = r;
            if (pivot != col)
                for (int c = 0; c <= n; c++) (a[col, c], a[pivot, c]) = (a[pivot, c], a[col, c]);
            for (int r = col + 1; r < n; r++)
            {
                double f = a[r, col] / a[col, col];
                for (int c = col; c <= n; c++) a[r, c] -= f * a[col, c];
            }
        }
        var x = new double[n];
        for (int r = n - 1; r >= 0; r--)
        {
            double s = a[r, n];
            for (int c = r + 1; c < n; c++) s -= a[r, c] * x[c];
            x[r] = s / a[r, r];
        }
        return x;
    }

    /// <summary>fastai's brightness and contrast: output = sigmoid(logit(x)·contrast + logit(brightness)).</summary>
    private (float Shift, float Scale) Lighting(IReadOnlyList<float> u)
    {
        var o = _options!;
        double m = o.MaxLighting;
        if (m <= 0) return (0, 1);
        double brightness = u[12] < o.ProbabilityLighting ? 0.5 * (1 - m) + u[13] * m : 0.5;
        double logLow = Math.Log(1 - m);
        double contrast = u[14] < o.ProbabilityLighting ? Math.Exp(logLow + u[15] * -2 * logLow) : 1;
        return ((float)Math.Log(brightness / (1 - brightness)), (float)contrast);
    }

    /// <summary>Output pixel coordinates (x, y, 1) in [-1, 1] with aligned corners, row-major; cached per size and device.</summary>
    private Tensor BaseGrid(long height, long width, Device device)
    {
        if (_baseGrid is { } cached && cached.shape[0] == height * width && SameDevice(cached.device, device) && _baseShape == (height, width)) return cached;
        _baseGrid?.Dispose();
        using var scope = NewDisposeScope();
        var ys = height > 1 ? linspace(-1, 1, height) : zeros(1);
        var xs = width > 1 ? linspace(-1, 1, width) : zeros(1);
        var grid = stack(new[] { xs.unsqueeze(0).expand(height, width), ys.unsqueeze(1).expand(height, width), ones(height, width) }, 2);
        _baseGrid = grid.reshape(height * width, 3).to(device).DetachFromDisposeScope();
        _baseShape = (height, width);
        return _baseGrid;
    }

    private (long, long) _baseShape;

    // TorchSharp's Device has no value equality.
    internal static bool SameDevice(Device a, Device b) => a.type == b.type && a.index == b.index;

    public void Dispose()
    {
        _baseGrid?.Dispose();
        _baseGrid = null;
    }
}

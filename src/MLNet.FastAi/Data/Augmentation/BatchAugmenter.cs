using TorchSharp;
using static TorchSharp.torch;
using static TorchSharp.torch.nn.functional;

namespace MLNet.FastAi.Data.Augmentation;

/// <summary>
/// Applies <see cref="AugmentationOptions"/> to a batch of images in 0..1 on their device. Random draws are per image
/// (as fastai's), from a seeded CPU generator so that a seed reproduces the same augmentations on any device; all
/// geometric transforms become one sampling grid and one <c>grid_sample</c> (reflection padding, bilinear, aligned
/// corners — fastai's defaults); lighting works in logit space as fastai's does.
/// </summary>
internal sealed class BatchAugmenter
{
    private readonly AugmentationOptions _options;

    public BatchAugmenter(AugmentationOptions options)
    {
        options.Validate();
        _options = options;
    }

    /// <summary>Augments <paramref name="images"/> [B, C, H, W] (float, 0..1); the result lives in the caller's dispose scope.</summary>
    public Tensor Apply(Tensor images, Generator generator)
    {
        long batch = images.shape[0];
        var device = images.device;
        var o = _options;

        // Every random number of the batch is drawn up front, on the CPU, in a fixed order.
        var u = rand(new long[] { batch, 12 }, generator: generator);
        Tensor Uniform(int column, double low, double high) => u[.., column] * (high - low) + low;
        Tensor Happens(int column, double p) => (u[.., column] < p).to(ScalarType.Float32);

        var affine = Happens(0, o.ProbabilityAffine);
        var flip = o.DoFlip ? Happens(1, 0.5) : zeros(batch);
        var angle = Uniform(2, -o.MaxRotate, o.MaxRotate) * Happens(3, o.ProbabilityAffine) * (Math.PI / 180);
        var zoom = Uniform(4, o.MinZoom, o.MaxZoom);
        var zoomOn = Happens(5, o.ProbabilityAffine);
        zoom = zoom * zoomOn + (1 - zoomOn);
        var centreX = Uniform(6, -1, 1) * (1 - 1 / zoom);
        var centreY = Uniform(7, -1, 1) * (1 - 1 / zoom);

        // theta maps output coordinates to input coordinates: flip ∘ rotate ∘ zoom about a random centre.
        var sx = (1 - 2 * flip) / zoom;
        var cos = angle.cos();
        var sin = angle.sin();
        var row0 = stack(new[] { cos * sx, -sin / zoom, centreX }, 1);
        var row1 = stack(new[] { sin * sx, cos / zoom, centreY }, 1);
        var theta = stack(new[] { row0, row1 }, 1);
        Tensor? vertical = null;
        if (o.FlipVertical)
        {
            // Dihedral: a random vertical flip on top of the horizontal one covers the 8 symmetries of the square.
            vertical = Happens(8, 0.5);
            theta[.., 1, ..] *= (1 - 2 * vertical).unsqueeze(1);
        }

        var grid = affine_grid(theta.to(device), new[] { batch, images.shape[1], images.shape[2], images.shape[3] }, align_corners: true);
        if (o.MaxWarp > 0)
        {
            var warpOn = Happens(9, o.ProbabilityAffine);
            var mx = Uniform(10, -o.MaxWarp, o.MaxWarp) * warpOn;
            var my = Uniform(11, -o.MaxWarp, o.MaxWarp) * warpOn;
            grid = Perspective(grid, mx.to(device), my.to(device));
        }
        var output = grid_sample(images, grid, GridSampleMode.Bilinear, GridSamplePaddingMode.Reflection, align_corners: true);

        if (o.MaxLighting > 0) output = Lighting(output, generator, device);
        return output;
    }

    /// <summary>
    /// fastai's warp: the perspective transform that moves the square's corners by ±magnitude, applied to the grid.
    /// </summary>
    private static Tensor Perspective(Tensor grid, Tensor mx, Tensor my)
    {
        long batch = grid.shape[0];
        var device = grid.device;
        var one = ones_like(mx);
        // Source corners (-1,-1), (-1,1), (1,-1), (1,1) and where the warp sends them.
        var sourceX = tensor(new float[] { -1, -1, 1, 1 }, device: device).expand(batch, 4);
        var sourceY = tensor(new float[] { -1, 1, -1, 1 }, device: device).expand(batch, 4);
        var targetX = stack(new[] { -(one + my), -(one - my), one + my, one - my }, 1);
        var targetY = stack(new[] { -(one - mx), one + mx, -(one + mx), one - mx }, 1);
        // Solve for the 8 homography coefficients mapping target → source, per image.
        var zero = zeros_like(targetX);
        var ones4 = ones_like(targetX);
        var rowsX = stack(new[] { targetX, targetY, ones4, zero, zero, zero, -targetX * sourceX, -targetY * sourceX }, 2);
        var rowsY = stack(new[] { zero, zero, zero, targetX, targetY, ones4, -targetX * sourceY, -targetY * sourceY }, 2);
        var a = cat(new[] { rowsX, rowsY }, 1);
        var b = cat(new[] { sourceX, sourceY }, 1).unsqueeze(2);
        var c = linalg.solve(a, b).squeeze(2);                           // [B, 8]
        var x = grid[.., .., .., 0];
        var y = grid[.., .., .., 1];
        Tensor Coef(int i) => c[.., i].view(batch, 1, 1);
        var denominator = Coef(6) * x + Coef(7) * y + 1;
        var newX = (Coef(0) * x + Coef(1) * y + Coef(2)) / denominator;
        var newY = (Coef(3) * x + Coef(4) * y + Coef(5)) / denominator;
        return stack(new[] { newX, newY }, 3);
    }

    /// <summary>fastai's brightness and contrast: <c>sigmoid(logit(x)·contrast + logit(brightness))</c>.</summary>
    private Tensor Lighting(Tensor images, Generator generator, Device device)
    {
        long batch = images.shape[0];
        float m = _options.MaxLighting;
        var u = rand(new long[] { batch, 4 }, generator: generator);
        var brightOn = (u[.., 0] < _options.ProbabilityLighting).to(ScalarType.Float32);
        var brightness = (u[.., 1] * m + 0.5f * (1 - m)) * brightOn + 0.5f * (1 - brightOn);
        var contrastOn = (u[.., 2] < _options.ProbabilityLighting).to(ScalarType.Float32);
        double logLow = Math.Log(1 - m);
        var contrast = (u[.., 3] * (-2 * logLow) + logLow).exp() * contrastOn + (1 - contrastOn);
        var shift = Logit(brightness).view(batch, 1, 1, 1).to(device);
        var scale = contrast.view(batch, 1, 1, 1).to(device);
        return (Logit(images) * scale + shift).sigmoid();
    }

    private static Tensor Logit(Tensor x)
    {
        var clamped = x.clamp(1e-7, 1 - 1e-7);
        return (clamped / (1 - clamped)).log();
    }
}

namespace MLNet.FastAi.Data.Download;

/// <summary>What <see cref="UntarData"/> is doing when it reports progress.</summary>
public enum DownloadStage
{
    /// <summary>Receiving the archive over the network.</summary>
    Downloading,

    /// <summary>Checking an archive already on disk against its expected size and MD5.</summary>
    Verifying,

    /// <summary>Unpacking the archive into the data directory.</summary>
    Extracting,

    /// <summary>The dataset folder is ready.</summary>
    Completed,
}

/// <summary>One progress report from <see cref="UntarData"/>.</summary>
/// <param name="Stage">What is being done.</param>
/// <param name="FileName">The archive being downloaded, verified or extracted; at <see cref="DownloadStage.Completed"/>, the dataset folder.</param>
/// <param name="BytesDone">Archive bytes handled so far in this stage.</param>
/// <param name="TotalBytes">Archive bytes this stage will handle, or <see langword="null"/> when the server did not say.</param>
public readonly record struct DownloadProgress(DownloadStage Stage, string FileName, long BytesDone, long? TotalBytes)
{
    /// <summary>The finished share of this stage between 0 and 1, or <see langword="null"/> when the total is unknown.</summary>
    public double? Fraction => TotalBytes is > 0 and var total ? Math.Clamp((double)BytesDone / total, 0, 1) : null;
}

namespace MLNet.FastAi.Data.Download;

/// <summary>
/// fastai's cache layout: archives in <c>&lt;home&gt;/archive</c>, extracted datasets in <c>&lt;home&gt;/data/&lt;folder&gt;</c>,
/// where home is the caller's choice, else <c>FASTAI_HOME</c>, else <c>~/.fastai</c>.
/// </summary>
internal sealed record DatasetCacheLayout(string Home, string ArchiveDirectory, string DataDirectory, string ArchivePath, string DatasetPath)
{
    public const string HomeVariable = "FASTAI_HOME";

    public static DatasetCacheLayout For(FastAiDataset dataset, string? home)
    {
        var root = ResolveHome(home);
        var archives = Path.Combine(root, "archive");
        var data = Path.Combine(root, "data");
        return new DatasetCacheLayout(root, archives, data,
            Path.Combine(archives, dataset.ArchiveFileName), Path.Combine(data, dataset.FolderName));
    }

    public static string ResolveHome(string? home)
    {
        string? chosen = string.IsNullOrWhiteSpace(home) ? Environment.GetEnvironmentVariable(HomeVariable) : home;
        if (string.IsNullOrWhiteSpace(chosen)) chosen = Path.Combine("~", ".fastai");
        if (chosen == "~" || chosen.StartsWith("~/", StringComparison.Ordinal) || chosen.StartsWith("~\\", StringComparison.Ordinal))
        {
            var user = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
            if (string.IsNullOrEmpty(user))
                throw new InvalidOperationException(
                    $"Cannot find the user's home folder for the dataset cache '{chosen}'; set {HomeVariable} or pass a data root.");
            chosen = Path.Combine(user, chosen.Length > 2 ? chosen[2..] : "");
        }
        return Path.GetFullPath(chosen);
    }
}

using System.Formats.Tar;
using System.IO.Compression;
using System.Text;

namespace MLNet.FastAi.Tests.Data.Download;

/// <summary>One entry of an archive built for a test.</summary>
public sealed record ArchiveEntry(string Name, string Content = "", TarEntryType Type = TarEntryType.RegularFile, string? LinkTarget = null)
{
    public static ArchiveEntry File(string name, string content) => new(name, content);
    public static ArchiveEntry Folder(string name) => new(name, Type: TarEntryType.Directory);
    public static ArchiveEntry SymbolicLink(string name, string target) => new(name, Type: TarEntryType.SymbolicLink, LinkTarget: target);
    public static ArchiveEntry HardLink(string name, string target) => new(name, Type: TarEntryType.HardLink, LinkTarget: target);
    public override string ToString() => LinkTarget is null ? Name : $"{Name} -> {LinkTarget}";
}

/// <summary>Builds .tar.gz and .zip archives in memory, entry by entry, exactly as given (no name cleaning).</summary>
internal static class TestArchives
{
    public static byte[] TarGz(params ArchiveEntry[] entries)
    {
        using var output = new MemoryStream();
        using (var gzip = new GZipStream(output, CompressionLevel.Fastest, leaveOpen: true))
        using (var tar = new TarWriter(gzip, TarEntryFormat.Pax, leaveOpen: true))
        {
            foreach (var entry in entries)
            {
                var tarEntry = new PaxTarEntry(entry.Type, entry.Name);
                if (entry.LinkTarget is not null) tarEntry.LinkName = entry.LinkTarget;
                if (entry.Type == TarEntryType.RegularFile) tarEntry.DataStream = new MemoryStream(Encoding.UTF8.GetBytes(entry.Content));
                tar.WriteEntry(tarEntry);
            }
        }
        return output.ToArray();
    }

    public static byte[] Zip(params ArchiveEntry[] entries)
    {
        using var output = new MemoryStream();
        using (var zip = new ZipArchive(output, ZipArchiveMode.Create, leaveOpen: true))
        {
            foreach (var entry in entries)
            {
                var zipEntry = zip.CreateEntry(entry.Name);
                if (entry.Type == TarEntryType.SymbolicLink) zipEntry.ExternalAttributes = unchecked((int)0xA1FF0000); // lrwxrwxrwx
                using var writer = new StreamWriter(zipEntry.Open());
                writer.Write(entry.LinkTarget ?? entry.Content);
            }
        }
        return output.ToArray();
    }

    public static string Md5Of(byte[] bytes) => Convert.ToHexString(System.Security.Cryptography.MD5.HashData(bytes)).ToLowerInvariant();
}

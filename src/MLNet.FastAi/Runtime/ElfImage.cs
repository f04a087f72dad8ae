using System.Buffers.Binary;
using System.Text;

namespace MLNet.FastAi.Runtime;

/// <summary>
/// Reads the few parts of a 64-bit little-endian ELF shared object that symbol versioning needs:
/// the versions it defines, the versions it needs (and where their flags live), its dynamic symbols
/// and its DT_NEEDED entries. Only what the GLIBCXX compatibility fix uses; not a general ELF reader.
/// </summary>
internal sealed class ElfImage
{
    private const uint ShtDynamic = 6;
    private const uint ShtDynsym = 11;
    private const uint ShtGnuVerdef = 0x6ffffffd;
    private const uint ShtGnuVerneed = 0x6ffffffe;
    private const uint ShtGnuVersym = 0x6fffffff;
    private const long DtNeeded = 1;

    /// <summary>The <c>VER_FLG_WEAK</c> bit of a <c>vna_flags</c> field.</summary>
    public const ushort VerFlagWeak = 0x2;

    private readonly byte[] _bytes;
    private readonly List<Section> _sections = new();

    private ElfImage(byte[] bytes, string path)
    {
        _bytes = bytes;
        Path = path;
        if (bytes.Length < 64 || bytes[0] != 0x7f || bytes[1] != (byte)'E' || bytes[2] != (byte)'L' || bytes[3] != (byte)'F')
            throw new InvalidDataException($"'{path}' is not an ELF file.");
        if (bytes[4] != 2 || bytes[5] != 1)
            throw new InvalidDataException($"'{path}' is not a 64-bit little-endian ELF file.");

        ulong sectionTable = U64(0x28);
        ushort entrySize = U16(0x3A), count = U16(0x3C);
        if (entrySize != 64 || sectionTable + (ulong)count * 64 > (ulong)bytes.Length)
            throw new InvalidDataException($"'{path}' has a malformed ELF section table.");
        for (int i = 0; i < count; i++)
        {
            int at = checked((int)sectionTable + i * 64);
            _sections.Add(new Section(U32(at + 4), U64(at + 24), U64(at + 32), U32(at + 40), U32(at + 44)));
        }
    }

    /// <summary>The file this image was read from.</summary>
    public string Path { get; }

    /// <summary>The raw bytes; <see cref="SetVersionNeedFlags"/> edits them in place.</summary>
    public byte[] Bytes => _bytes;

    public static ElfImage Load(string path) => new(File.ReadAllBytes(path), path);

    /// <summary>Version names this object defines (its <c>.gnu.version_d</c>), e.g. GLIBCXX_3.4.30.</summary>
    public IReadOnlySet<string> DefinedVersions()
    {
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var section in _sections.Where(s => s.Type == ShtGnuVerdef))
        {
            var strings = _sections[(int)section.Link];
            long at = (long)section.Offset;
            for (uint i = 0; i < section.Info; i++)
            {
                ushort auxCount = U16(at + 6);
                uint aux = U32(at + 12), next = U32(at + 16);
                long auxAt = at + aux;
                // The first aux entry names the version itself; the rest name its parents.
                if (auxCount > 0) names.Add(String(strings, U32(auxAt)));
                if (next == 0) break;
                at += next;
            }
        }
        return names;
    }

    /// <summary>Every version this object needs from another library (its <c>.gnu.version_r</c>).</summary>
    public IReadOnlyList<VersionNeed> NeededVersions()
    {
        var needs = new List<VersionNeed>();
        foreach (var section in _sections.Where(s => s.Type == ShtGnuVerneed))
        {
            var strings = _sections[(int)section.Link];
            long at = (long)section.Offset;
            for (uint i = 0; i < section.Info; i++)
            {
                ushort auxCount = U16(at + 2);
                string file = String(strings, U32(at + 4));
                uint aux = U32(at + 8), next = U32(at + 12);
                long auxAt = at + aux;
                for (int j = 0; j < auxCount; j++)
                {
                    needs.Add(new VersionNeed(file, String(strings, U32(auxAt + 8)), U16(auxAt + 4), U16(auxAt + 6), auxAt + 4));
                    uint auxNext = U32(auxAt + 12);
                    if (auxNext == 0) break;
                    auxAt += auxNext;
                }
                if (next == 0) break;
                at += next;
            }
        }
        return needs;
    }

    /// <summary>Names of the dynamic symbols bound to a version index (the <c>vna_other</c> of a need).</summary>
    public IReadOnlyList<string> SymbolsBoundToVersion(ushort versionIndex)
    {
        var dynsym = _sections.FirstOrDefault(s => s.Type == ShtDynsym);
        var versym = _sections.FirstOrDefault(s => s.Type == ShtGnuVersym);
        if (dynsym is null || versym is null) return Array.Empty<string>();
        var strings = _sections[(int)dynsym.Link];
        int count = (int)(dynsym.Size / 24);
        var names = new List<string>();
        for (int i = 0; i < count; i++)
        {
            // Bit 15 marks a hidden version; the index is in the low 15 bits.
            if ((U16((long)versym.Offset + 2L * i) & 0x7fff) != versionIndex) continue;
            names.Add(String(strings, U32((long)dynsym.Offset + 24L * i)));
        }
        return names;
    }

    /// <summary>The DT_NEEDED entries: the libraries the dynamic loader opens before this one.</summary>
    public IReadOnlyList<string> NeededLibraries()
    {
        var dynamic = _sections.FirstOrDefault(s => s.Type == ShtDynamic);
        if (dynamic is null) return Array.Empty<string>();
        var strings = _sections[(int)dynamic.Link];
        var needed = new List<string>();
        for (long at = (long)dynamic.Offset; at + 16 <= (long)(dynamic.Offset + dynamic.Size); at += 16)
        {
            long tag = (long)U64(at);
            if (tag == 0) break;
            if (tag == DtNeeded) needed.Add(String(strings, (uint)U64(at + 8)));
        }
        return needed;
    }

    /// <summary>Overwrites the <c>vna_flags</c> of one version need.</summary>
    public void SetVersionNeedFlags(VersionNeed need, ushort flags) =>
        BinaryPrimitives.WriteUInt16LittleEndian(_bytes.AsSpan(checked((int)need.FlagsOffset), 2), flags);

    private string String(Section table, uint offset)
    {
        long start = (long)table.Offset + offset;
        int end = Array.IndexOf(_bytes, (byte)0, checked((int)start));
        if (end < 0) throw new InvalidDataException($"'{Path}' has an unterminated string at {start}.");
        return Encoding.UTF8.GetString(_bytes, (int)start, end - (int)start);
    }

    private ushort U16(long at) => BinaryPrimitives.ReadUInt16LittleEndian(_bytes.AsSpan(checked((int)at), 2));
    private uint U32(long at) => BinaryPrimitives.ReadUInt32LittleEndian(_bytes.AsSpan(checked((int)at), 4));
    private ulong U64(long at) => BinaryPrimitives.ReadUInt64LittleEndian(_bytes.AsSpan(checked((int)at), 8));

    private sealed record Section(uint Type, ulong Offset, ulong Size, uint Link, uint Info);
}

/// <summary>One version an ELF object needs: <c>File</c> must define <c>Name</c>.</summary>
/// <param name="File">The library expected to define the version (e.g. libstdc++.so.6).</param>
/// <param name="Name">The version name (e.g. GLIBCXX_3.4.32).</param>
/// <param name="Flags">The <c>vna_flags</c>; <see cref="ElfImage.VerFlagWeak"/> makes a missing version a warning.</param>
/// <param name="VersionIndex">The <c>vna_other</c> index that symbols use to refer to this version.</param>
/// <param name="FlagsOffset">File offset of the <c>vna_flags</c> field.</param>
internal sealed record VersionNeed(string File, string Name, ushort Flags, ushort VersionIndex, long FlagsOffset);

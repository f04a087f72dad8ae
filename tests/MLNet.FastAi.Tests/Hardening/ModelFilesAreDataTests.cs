using System.IO.Compression;
using System.Reflection;
using System.Reflection.Metadata;
using System.Reflection.PortableExecutable;
using System.Text;
using MLNet.FastAi.Data.Download;
using MLNet.FastAi.Runtime;
using MLNet.FastAi.Tests.Support;
using MLNet.FastAi.Training;
using MLNet.FastAi.Vision;
using MLNet.FastAi.Vision.Modules;
using MLNet.FastAi.Vision.Pretrained;

namespace MLNet.FastAi.Tests.Hardening;

/// <summary>
/// Model files are data: loading a checkpoint, weights file or archive never runs code, never creates a type the
/// file names, and never writes outside its folder. Pickles that would run commands in Python are refused.
/// </summary>
public sealed class ModelFilesAreDataTests : IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "mlnet-fastai-model-files-" + Guid.NewGuid().ToString("N")[..8]);

    public ModelFilesAreDataTests()
    {
        TorchRuntime.EnsureInitialized();
        Directory.CreateDirectory(_root);
    }

    public void Dispose()
    {
        try { Directory.Delete(_root, recursive: true); }
        catch (IOException) { }
    }

    /// <summary>
    /// Serializers that instantiate whatever type the data names are the classic way a model file runs code in .NET;
    /// the package's compiled code references none of them (read from its metadata, so a new use cannot slip in).
    /// </summary>
    [Fact]
    public void ThePackage_ReferencesNoSerializerThatCreatesTypesNamedByTheData()
    {
        string[] forbiddenTypes =
        {
            "BinaryFormatter", "NetDataContractSerializer", "SoapFormatter", "LosFormatter", "ObjectStateFormatter",
            "JavaScriptSerializer", "SimpleTypeResolver", "TypeNameHandling", "JsonDerivedTypeAttribute", "JsonPolymorphicAttribute",
        };
        using var file = File.OpenRead(typeof(Learner).Assembly.Location);
        using var pe = new PEReader(file);
        var metadata = pe.GetMetadataReader();
        var referenced = metadata.TypeReferences.Select(h => metadata.GetString(metadata.GetTypeReference(h).Name)).ToHashSet();
        Assert.Empty(referenced.Intersect(forbiddenTypes));

        // Nor does it look types up by name, load assemblies from files or create instances of a type chosen at run
        // time. (Assembly.Load is used once, by the native loader, with the constant name "TorchSharp".)
        var calls = metadata.MemberReferences.Select(h => metadata.GetMemberReference(h))
            .Where(m => m.Parent.Kind == HandleKind.TypeReference)
            .Select(m => $"{metadata.GetString(metadata.GetTypeReference((TypeReferenceHandle)m.Parent).Name)}.{metadata.GetString(m.Name)}")
            .ToHashSet();
        Assert.Empty(calls.Intersect(new[] { "Type.GetType", "Assembly.LoadFrom", "Assembly.LoadFile", "Activator.CreateInstance", "AppDomain.CreateInstance" }));
    }

    /// <summary>
    /// Checkpoint metadata is read into a class whose members are all numbers, strings and lists of them: no member
    /// of type object, interface or abstract class that JSON could fill with a type of its choosing.
    /// </summary>
    [Fact]
    public void CheckpointMetadata_HoldsOnlyPlainValues()
    {
        var metadata = typeof(LearnerCheckpoints).GetNestedType("CheckpointMetadata", BindingFlags.NonPublic)!;
        Assert.NotNull(metadata);
        static bool Plain(Type t) => t.IsPrimitive || t == typeof(string) || t.IsGenericType && t.GetGenericTypeDefinition() == typeof(List<>) && Plain(t.GetGenericArguments()[0]);
        Assert.All(metadata.GetProperties(), p => Assert.True(Plain(p.PropertyType), $"{p.Name} is a {p.PropertyType}"));
        Assert.True(metadata.IsSealed);
    }

    /// <summary>Pickles that in Python would run a command (the marker file would appear) when torch.load reads them.</summary>
    public static TheoryData<string, string, string> CommandGlobals() => new()
    {
        { "os", "system", "sh" }, { "posix", "system", "sh" }, { "builtins", "eval", "python" }, { "subprocess", "check_call", "argv" },
    };

    [Theory]
    [MemberData(nameof(CommandGlobals))]
    public void APthPickleCallingACommand_IsRefusedNamingTheFile_AndRunsNothing(string module, string name, string style)
    {
        string marker = Path.Combine(_root, "pwned");
        var pickle = new Pickle().Global(module, name);
        switch (style)
        {
            case "sh": pickle.Mark().Text($"touch {marker}").Tuple(); break;
            case "python": pickle.Mark().Text($"open('{marker}', 'w').close()").Tuple(); break;
            default: pickle.Mark().EmptyList().Mark().Text("touch").Text(marker).Appends().Tuple(); break;
        }
        string path = WritePth("evil.pth", pickle.Reduce().Stop());

        using var body = new ResNetBody(SmallMnistFixture.TinyResNet);
        var e = Assert.Throws<InvalidDataException>(() => WeightFiles.LoadBody(body, path));

        Assert.Contains(path, e.Message);
        Assert.False(File.Exists(marker), "the pickle's command ran");
    }

    [Fact]
    public void APthPickle_ThroughLearnerVision_IsRefusedBeforeTraining_AndRunsNothing()
    {
        string marker = Path.Combine(_root, "pwned");
        string path = WritePth("evil.pth", new Pickle().Global("os", "system").Mark().Text($"touch {marker}").Tuple().Reduce().Stop());
        using var data = MLNet.FastAi.Data.ImageDataLoaders.FromSplits(MnistSample.Take("training", 1), MnistSample.Take("training", 1, skip: 1),
            options: new MLNet.FastAi.Data.ImageDataOptions { ImageSize = 16 });

        var e = Assert.Throws<InvalidDataException>(() => Learner.Vision(data, new VisionLearnerOptions
        {
            Architecture = SmallMnistFixture.TinyResNet, Pretrained = PretrainedSource.File, WeightsFile = path, ShowProgress = false, Device = ComputeDevice.Cpu,
        }));

        Assert.Contains(path, e.Message);
        Assert.False(File.Exists(marker), "the pickle's command ran");
    }

    /// <summary>A state dict whose value is an object of an arbitrary Python class (built by calling os.system with no argument).</summary>
    [Fact]
    public void APthWhoseValueIsNotATensor_IsRefusedNamingTheKeyAndTheClass()
    {
        string path = WritePth("object.pth", new Pickle().EmptyDict()
            .Text("conv1.weight").Global("os", "system").EmptyTuple().Reduce().SetItem().Stop());

        var e = Assert.Throws<InvalidDataException>(() => WeightFiles.Read(path));

        Assert.Contains(path, e.Message);
        Assert.Contains("'conv1.weight'", e.Message);
        Assert.Contains("os.system", e.Message);
        Assert.Contains("not a tensor", e.Message);
    }

    [Fact]
    public void APthThatIsNotADictionary_IsRefusedAsNotAStateDict()
    {
        string path = WritePth("list.pth", new Pickle().EmptyList().Stop());

        var e = Assert.Throws<InvalidDataException>(() => WeightFiles.Read(path));

        Assert.Contains(path, e.Message);
        Assert.Contains("not a state dict", e.Message);
    }

    /// <summary>Zip names that climb out of the folder in the ways tar names cannot (covered in UntarDataTests).</summary>
    [Theory]
    [InlineData(@"..\evil.txt")]
    [InlineData(@"ds\..\..\evil.txt")]
    [InlineData("<absolute path outside>")]
    [InlineData(@"\evil.txt")]
    [InlineData("C:/evil.txt")]
    public async Task AZipEntryEscapingItsFolder_IsRefused_AndNothingIsWrittenOutside(string entryName)
    {
        if (entryName.StartsWith('<')) entryName = Path.Combine(_root, "outside", "evil.txt");
        string archive = Path.Combine(_root, "evil.zip");
        using (var zip = ZipFile.Open(archive, ZipArchiveMode.Create))
        {
            Write(zip, "ds/ok.txt", "ok");
            Write(zip, entryName, "evil");
        }
        string destination = Path.Combine(_root, "dataset");

        var e = await Assert.ThrowsAsync<UnsafeArchiveEntryException>(() => ArchiveExtractor.ExtractAsync(archive, destination, null, CancellationToken.None));

        Assert.Equal(entryName, e.EntryName);
        Assert.Equal(new[] { archive }, Directory.GetFiles(_root, "*", SearchOption.AllDirectories).Where(f => !f.StartsWith(destination + Path.DirectorySeparatorChar)));
    }

    /// <summary>A dataset zip with one byte of a stored file changed: refused as damaged, by the entry's CRC-32.</summary>
    [Fact]
    public async Task AZipWhoseFileFailsItsCrc_IsRefusedAsDamaged()
    {
        string archive = Path.Combine(_root, "damaged.zip");
        using (var zip = ZipFile.Open(archive, ZipArchiveMode.Create))
            using (var writer = new StreamWriter(zip.CreateEntry("ds/data.txt", CompressionLevel.NoCompression).Open()))
                writer.Write(new string('a', 1000));
        byte[] bytes = File.ReadAllBytes(archive);
        int at = Encoding.ASCII.GetString(bytes).IndexOf(new string('a', 1000), StringComparison.Ordinal);
        bytes[at + 500] = (byte)'b';
        File.WriteAllBytes(archive, bytes);

        var e = await Assert.ThrowsAsync<InvalidDataException>(() => ArchiveExtractor.ExtractAsync(archive, Path.Combine(_root, "dataset"), null, CancellationToken.None));

        Assert.Contains(archive, e.Message);
        Assert.Contains("CRC-32", e.Message);
        Assert.Contains("ds/data.txt", e.Message);
    }

    private static void Write(ZipArchive zip, string name, string content)
    {
        using var writer = new StreamWriter(zip.CreateEntry(name).Open());
        writer.Write(content);
    }

    /// <summary>A PyTorch-style .pth: a zip whose <c>archive/data.pkl</c> is the pickle.</summary>
    private string WritePth(string name, byte[] pickle)
    {
        string path = Path.Combine(_root, name);
        using var zip = ZipFile.Open(path, ZipArchiveMode.Create);
        using var stream = zip.CreateEntry("archive/data.pkl").Open();
        stream.Write(pickle);
        return path;
    }

    /// <summary>Writes pickle opcodes (protocol 2), as Python's pickletools lists them.</summary>
    private sealed class Pickle
    {
        private readonly MemoryStream _bytes = new();

        public Pickle() => _bytes.Write(new byte[] { 0x80, 2 });  // PROTO 2

        public Pickle Global(string module, string name) => Op('c', Encoding.ASCII.GetBytes($"{module}\n{name}\n"));
        public Pickle Mark() => Op('(');
        public Pickle Tuple() => Op('t');
        public Pickle EmptyTuple() => Op(')');
        public Pickle EmptyList() => Op(']');
        public Pickle Appends() => Op('e');
        public Pickle EmptyDict() => Op('}');
        public Pickle SetItem() => Op('s');
        public Pickle Reduce() => Op('R');

        public Pickle Text(string value)
        {
            byte[] utf8 = Encoding.UTF8.GetBytes(value);
            return Op('X', BitConverter.GetBytes(utf8.Length).Concat(utf8).ToArray());  // BINUNICODE, little-endian length
        }

        public byte[] Stop()
        {
            Op('.');
            return _bytes.ToArray();
        }

        private Pickle Op(char code, byte[]? argument = null)
        {
            _bytes.WriteByte((byte)code);
            if (argument is not null) _bytes.Write(argument);
            return this;
        }
    }
}

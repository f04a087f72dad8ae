using System.Diagnostics;
using Xunit.Abstractions;

namespace MLNet.FastAi.Tests.Hardening;

/// <summary>
/// A training process killed in the middle of an epoch resumes, in a new process, from its last checkpoint with
/// exactly the result of a run that was never interrupted — also run in its own process. The shuffles, augmentation
/// draws, dropout masks and schedule positions therefore repeat across processes, not only within one.
/// (Training/ResumeTests does the same within one process.)
/// </summary>
[Trait("Category", "Slow")]
public sealed class CrossProcessResumeTests(ITestOutputHelper output) : IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "mlnet-fastai-cross-process-" + Guid.NewGuid().ToString("N")[..8]);

    private readonly ChildList _children = new();

    public void Dispose()
    {
        _children.KillAll();  // a failed assertion must not leave a child training, or holding forever
        try { Directory.Delete(_root, recursive: true); }
        catch (IOException) { }
    }

    [Fact]
    public void AProcessKilledMidEpoch_ResumesFromItsLastCheckpointInANewProcess_ToExactlyTheUninterruptedWeights()
    {
        string uninterruptedModels = Folder("uninterrupted"), killedModels = Folder("killed");
        string uninterruptedWeights = Path.Combine(_root, "uninterrupted.bin"), resumedWeights = Path.Combine(_root, "resumed.bin");
        var clock = Stopwatch.StartNew();

        // The uninterrupted run and the run to be killed go side by side.
        var uninterrupted = _children.Started(uninterruptedModels, uninterruptedWeights, "-", "-");
        var killed = _children.Started(killedModels, Path.Combine(_root, "never.bin"), "hold=2:1", "-");
        var killedOutput = killed.ReadUntil("holding");
        killed.Kill();
        output.WriteLine($"killed after: {string.Join(" | ", killedOutput)}");
        Assert.Contains("saved 1", killedOutput);
        Assert.Contains("batch 2:0", killedOutput);          // epoch 2 had started: its first batch was trained
        Assert.DoesNotContain("saved 2", killedOutput);
        Assert.Equal(new[] { "run_0.ckpt", "run_1.ckpt" }, Directory.GetFiles(killedModels).Select(Path.GetFileName).Order());  // no temporary, no epoch 2
        Assert.Equal(0, uninterrupted.WaitForSuccess());

        var resumed = _children.Started(killedModels, resumedWeights, "-", "resume=run_1:2");
        var resumedOutput = resumed.ReadUntil("done");
        Assert.Equal(0, resumed.WaitForSuccess());
        Assert.Equal("batch 2:0", resumedOutput.First(l => l.StartsWith("batch")));
        output.WriteLine($"three child processes in {clock.Elapsed.TotalSeconds:F1} s");

        byte[] expected = File.ReadAllBytes(uninterruptedWeights), actual = File.ReadAllBytes(resumedWeights);
        Assert.True(expected.Length > 10_000, "the weights file is suspiciously small");
        Assert.True(expected.AsSpan().SequenceEqual(actual), "the resumed weights differ from the uninterrupted run's");
        // The weights the resumed run started from (epoch 1's checkpoint, same tensor format) differ from the final ones,
        // so resuming really trained two more epochs and the equality above is not vacuous.
        using var checkpoint = System.IO.Compression.ZipFile.OpenRead(Path.Combine(killedModels, "run_1.ckpt"));
        using var startingWeights = new MemoryStream();
        using (var entry = checkpoint.GetEntry("model.bin")!.Open()) entry.CopyTo(startingWeights);
        Assert.Equal(expected.Length, startingWeights.Length);
        Assert.False(expected.AsSpan().SequenceEqual(startingWeights.ToArray()), "the resumed run ended where it started");
    }

    private string Folder(string name) => Directory.CreateDirectory(Path.Combine(_root, name)).FullName;

    private sealed class ChildList
    {
        private readonly List<Child> _all = new();

        public Child Started(params string[] arguments)
        {
            var child = Child.Start(arguments);
            _all.Add(child);
            return child;
        }

        public void KillAll() => _all.ForEach(c => c.Kill());
    }

    /// <summary>A child process running <see cref="TrainingChild"/> through this test assembly's entry point.</summary>
    private sealed class Child
    {
        private readonly Process _process;
        private readonly List<string> _lines = new();
        private readonly object _gate = new();

        private Child(Process process) => _process = process;

        public static Child Start(params string[] arguments)
        {
            string host = Environment.ProcessPath is { } p && Path.GetFileNameWithoutExtension(p) == "dotnet" ? p : "dotnet";
            var info = new ProcessStartInfo(host)
            {
                RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
                WorkingDirectory = AppContext.BaseDirectory,
            };
            info.ArgumentList.Add(typeof(TestAssemblyEntryPoint).Assembly.Location);
            info.ArgumentList.Add("hardening-child");
            foreach (var a in arguments) info.ArgumentList.Add(a);
            var child = new Child(new Process { StartInfo = info });
            child._process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (child._gate) { child._lines.Add(e.Data); Monitor.PulseAll(child._gate); } };
            child._process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (child._gate) child._lines.Add("stderr: " + e.Data); };
            child._process.Start();
            child._process.BeginOutputReadLine();
            child._process.BeginErrorReadLine();
            return child;
        }

        /// <summary>The lines printed until <paramref name="line"/> appears (within two minutes).</summary>
        public List<string> ReadUntil(string line)
        {
            var deadline = DateTime.UtcNow.AddMinutes(2);
            lock (_gate)
            {
                while (!_lines.Contains(line))
                {
                    if (_process.HasExited && !_lines.Contains(line))
                    {
                        _process.WaitForExit();  // drain the output
                        if (_lines.Contains(line)) break;
                        throw new InvalidOperationException($"The child exited ({_process.ExitCode}) before printing '{line}':\n{string.Join("\n", _lines)}");
                    }
                    if (DateTime.UtcNow > deadline) throw new TimeoutException($"No '{line}' from the child:\n{string.Join("\n", _lines)}");
                    Monitor.Wait(_gate, TimeSpan.FromMilliseconds(200));
                }
                return _lines.ToList();
            }
        }

        public void Kill()
        {
            if (_process.HasExited) return;
            _process.Kill(entireProcessTree: true);
            _process.WaitForExit();
        }

        public int WaitForSuccess()
        {
            if (!_process.WaitForExit(TimeSpan.FromMinutes(2)))
            {
                _process.Kill(entireProcessTree: true);
                throw new TimeoutException("The child did not finish in two minutes.");
            }
            _process.WaitForExit();
            lock (_gate)
                if (_process.ExitCode != 0) throw new InvalidOperationException($"The child failed ({_process.ExitCode}):\n{string.Join("\n", _lines)}");
            return _process.ExitCode;
        }
    }
}

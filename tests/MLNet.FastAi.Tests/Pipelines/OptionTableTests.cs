using System.Reflection;
using MLNet.FastAi.Settings;

namespace MLNet.FastAi.Tests.Pipelines;

/// <summary>README's table of settings is the one table of <see cref="OptionKey"/>, rendered: it cannot drift from what the doors say.</summary>
public sealed class OptionTableTests
{
    [Fact]
    public void TheReadmesTableOfSettings_IsTheOptionKeyTable()
    {
        var rows = typeof(OptionKey).GetFields(BindingFlags.Public | BindingFlags.Static)
            .Select(f => (OptionKey)f.GetValue(null)!)
            .Select(k => $"| {k.Name} | {Cell(k, OptionDoor.FastAi)} | {Cell(k, OptionDoor.Estimator)} | {Cell(k, OptionDoor.CommandLine)} |")
            .ToList();
        string readme = File.ReadAllText(Path.Combine(Packaging.ProcessRunner.RepositoryRoot, "README.md"));
        var missing = rows.Where(r => !readme.Contains(r, StringComparison.Ordinal)).ToList();
        Assert.True(missing.Count == 0, "README's table of settings lacks or misstates these rows; the table is:\n" + string.Join("\n", rows));
    }

    // A door that does not expose a setting names it in words: the table gives the fastai API's words, and a dash for the others.
    private static string Cell(OptionKey key, OptionDoor door)
    {
        string name = key.NameFor(door);
        bool exposed = door switch
        {
            OptionDoor.CommandLine => name.StartsWith("--", StringComparison.Ordinal),
            OptionDoor.Estimator => name.StartsWith("FastAiCnnOptions.", StringComparison.Ordinal),
            _ => !name.Contains(' ', StringComparison.Ordinal),
        };
        return exposed ? $"`{name}`" : door == OptionDoor.FastAi ? name : "—";
    }
}

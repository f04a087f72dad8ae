namespace MLNet.FastAi.Tests.Support;

/// <summary>
/// Tests that compare two training runs bit for bit. libtorch's random generator (dropout masks) and its thread
/// pool are process-wide, so these run alone, after the parallel collections, with nothing else drawing numbers.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class ProcessWideRandomness
{
    public const string Name = "Process-wide randomness";
}

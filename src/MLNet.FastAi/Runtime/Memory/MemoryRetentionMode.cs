namespace MLNet.FastAi.Runtime;

/// <summary>What the C allocator (glibc) does with the memory libtorch frees; see <see cref="MemoryRetention"/>.</summary>
public enum MemoryRetentionMode
{
    /// <summary>
    /// glibc as it starts: blocks over a self-tuned threshold (up to 32 MiB) get mappings of their own and go back to
    /// the kernel when freed; smaller ones stay in its heaps, whose free space it keeps, fragmented, in between.
    /// </summary>
    Default,

    /// <summary>
    /// Keep everything freed for reuse (the package's default): no page faults for the next batch's tensors, about
    /// 1.5× faster training and inference steps at 224 px on a CPU; resident memory stays at its peak, which grows
    /// beyond the working set over a run.
    /// </summary>
    Retain,

    /// <summary>
    /// Give memory back as soon as it is freed: every block from 1 MiB up gets a mapping of its own and heaps are
    /// trimmed past 128 KiB, so resident memory follows what is live and stays flat however long a run is, at the
    /// lowest peak of the three; every step pays page faults for its activations (at 224 px on 2 cores about two thirds
    /// of <see cref="Retain"/>'s speed). For long runs on machines where memory is tight.
    /// </summary>
    Release,
}

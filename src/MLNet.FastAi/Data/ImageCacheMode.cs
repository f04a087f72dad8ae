namespace MLNet.FastAi.Data;

/// <summary>Where decoded images are kept between epochs (<see cref="ImageDataOptions.Cache"/>).</summary>
public enum ImageCacheMode
{
    /// <summary>
    /// Memory when every split's decoded pixels fit <see cref="ImageDataOptions.MemoryBudget"/>, else a disk cache when
    /// the cache folder has room, else streaming. The choice and its reason are logged in one line.
    /// </summary>
    Auto,

    /// <summary>Decode once into memory (and, on a GPU, onto the device): the fastest epochs; refused when it cannot fit.</summary>
    Memory,

    /// <summary>
    /// Decode once into one file of the dataset's images per size in <see cref="ImageDataOptions.CacheFolder"/>, read
    /// back by position each batch; later runs on the same files reuse it, whatever their split. Pages of the file are
    /// the kernel's cache, not the process's memory.
    /// </summary>
    Disk,

    /// <summary>Decode every epoch in background workers, a few batches ahead of training: nothing kept, memory flat.</summary>
    Stream,
}

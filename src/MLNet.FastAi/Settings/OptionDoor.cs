namespace MLNet.FastAi.Settings;

/// <summary>
/// The three ways into the engine. Each names the same setting in its own words (<c>ImageDataOptions.ItemSize</c>,
/// <c>FastAiCnnOptions.ItemSize</c>, <c>--item-size</c>); messages are rendered in the words of the door in use.
/// </summary>
internal enum OptionDoor
{
    /// <summary>The fastai-style API: <c>ImageDataOptions</c>, <c>VisionLearnerOptions</c>, <c>Learner</c>'s arguments.</summary>
    FastAi,

    /// <summary>The ML.NET trainer: <c>FastAiCnnOptions</c>.</summary>
    Estimator,

    /// <summary>The <c>mlnet-fastai</c> tool: its flags.</summary>
    CommandLine,
}

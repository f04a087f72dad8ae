namespace MLNet.FastAi.Tests.Training.TensorBoard;

/// <summary>A clock that stands still until told, and a flush timer that fires only when the test says so.</summary>
internal sealed class ManualTimeProvider(DateTimeOffset now) : TimeProvider
{
    private TimerCallback? _callback;
    private object? _state;

    public DateTimeOffset Now { get; set; } = now;

    public override DateTimeOffset GetUtcNow() => Now;

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        _callback = callback;
        _state = state;
        return new InertTimer();
    }

    public void FireTimer() => (_callback ?? throw new InvalidOperationException("No timer was created."))(_state);

    private sealed class InertTimer : ITimer
    {
        public bool Change(TimeSpan dueTime, TimeSpan period) => true;
        public void Dispose() { }
        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }
}

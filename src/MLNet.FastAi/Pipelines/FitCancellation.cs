using Microsoft.ML.Runtime;
using MLNet.FastAi.Training.Callbacks;

namespace MLNet.FastAi.Pipelines;

/// <summary>
/// One fit's cancellation: the caller's token joined with the ML.NET host's cancellation (what
/// <c>mlContext.CancelExecution()</c> sets, and what ML.NET's own trainers check with <c>Host.CheckAlive()</c>).
/// The learner stops at the next batch once the token is cancelled; <see cref="Callback"/> polls the host around every
/// batch, so a cancelled context stops training within one batch.
/// </summary>
internal sealed class FitCancellation : IDisposable
{
    private readonly IHost _host;
    private readonly CancellationTokenSource _source;

    public FitCancellation(IHost host, CancellationToken token)
    {
        _host = host;
        _source = CancellationTokenSource.CreateLinkedTokenSource(token);
        // Kept apart from the source: a token outlives its source's disposal, the source's Token property does not.
        _token = _source.Token;
        Callback = new PollingCallback(this);
    }

    /// <summary>The token the learner and the decoding loops watch.</summary>
    public CancellationToken Token => _token;

    private readonly CancellationToken _token;

    /// <summary>Polls the host before and after every training and validation batch.</summary>
    public Callback Callback { get; }

    /// <summary>True once the context or the caller cancelled.</summary>
    public bool IsCancellationRequested
    {
        get
        {
            Poll();
            return _source.IsCancellationRequested;
        }
    }

    /// <summary>
    /// Throws <see cref="OperationCanceledException"/> once the context or the caller cancelled. After the fit (once
    /// disposed) nothing is cancelled: a fitted model's learner that decodes its images again is not part of that fit.
    /// </summary>
    public void ThrowIfCancellationRequested()
    {
        Poll();
        if (!_disposed) _token.ThrowIfCancellationRequested();
    }

    private void Poll()
    {
        if (!_disposed && !_source.IsCancellationRequested && EnvironmentInternals.IsCanceled(_host)) _source.Cancel();
    }

    private volatile bool _disposed;

    public void Dispose()
    {
        _disposed = true;
        _source.Dispose();
    }

    private sealed class PollingCallback(FitCancellation owner) : Callback
    {
        public override int Order => -100;

        public override void BeforeBatch() => owner.Poll();

        public override void AfterBatch() => owner.Poll();
    }
}


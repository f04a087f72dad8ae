using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace MLNet.FastAi.Tests.Data.Download;

/// <summary>
/// A minimal HTTP/1.1 server on 127.0.0.1 and a free port, serving byte arrays by path, counting requests,
/// and able to break a response off halfway, as a dropped connection would.
/// </summary>
internal sealed class LoopbackArchiveServer : IDisposable
{
    private sealed record Route(byte[] Body, int StatusCode, int? CutAfterBytes);

    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly ConcurrentDictionary<string, Route> _routes = new();
    private readonly ConcurrentDictionary<string, int> _requests = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;

    public LoopbackArchiveServer()
    {
        _listener.Start();
        Port = ((IPEndPoint)_listener.LocalEndpoint).Port;
        _loop = Task.Run(AcceptLoopAsync);
    }

    public int Port { get; }

    public Uri UrlFor(string path) => new($"http://127.0.0.1:{Port}/{path.TrimStart('/')}");

    public void Serve(string path, byte[] body) => _routes["/" + path.TrimStart('/')] = new Route(body, 200, null);

    /// <summary>The next request gets the full Content-Length header but only the first bytes, then the connection closes.</summary>
    public void ServeCutOffOnce(string path, byte[] body, int bytesBeforeClose) =>
        _routes["/" + path.TrimStart('/')] = new Route(body, 200, bytesBeforeClose);

    public void ServeStatus(string path, int statusCode) => _routes["/" + path.TrimStart('/')] = new Route([], statusCode, null);

    public int RequestCount(string path) => _requests.GetValueOrDefault("/" + path.TrimStart('/'));

    private async Task AcceptLoopAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            TcpClient client;
            try { client = await _listener.AcceptTcpClientAsync(_stop.Token); }
            catch (Exception) when (_stop.IsCancellationRequested) { return; }
            catch (SocketException) { return; }
            _ = Task.Run(() => HandleAsync(client));
        }
    }

    private async Task HandleAsync(TcpClient client)
    {
        using (client)
        {
            try
            {
                var stream = client.GetStream();
                var path = await ReadRequestPathAsync(stream);
                if (path is null) return;
                _requests.AddOrUpdate(path, 1, (_, n) => n + 1);
                if (!_routes.TryGetValue(path, out var route)) route = new Route([], 404, null);
                if (route.CutAfterBytes is not null) _routes[path] = route with { CutAfterBytes = null };

                var reason = route.StatusCode == 200 ? "OK" : route.StatusCode == 404 ? "Not Found" : "Error";
                var head = $"HTTP/1.1 {route.StatusCode} {reason}\r\nContent-Length: {route.Body.Length}\r\n" +
                           "Content-Type: application/octet-stream\r\nConnection: close\r\n\r\n";
                await stream.WriteAsync(Encoding.ASCII.GetBytes(head));
                int bodyBytes = Math.Min(route.CutAfterBytes ?? route.Body.Length, route.Body.Length);
                await stream.WriteAsync(route.Body.AsMemory(0, bodyBytes));
                await stream.FlushAsync();
            }
            catch (IOException) { }
            catch (SocketException) { }
        }
    }

    private static async Task<string?> ReadRequestPathAsync(NetworkStream stream)
    {
        var received = new List<byte>();
        var buffer = new byte[1024];
        while (!EndsWithBlankLine(received))
        {
            int read = await stream.ReadAsync(buffer);
            if (read == 0) return null;
            received.AddRange(buffer.AsSpan(0, read).ToArray());
        }
        var requestLine = Encoding.ASCII.GetString(received.ToArray()).Split("\r\n")[0].Split(' ');
        return requestLine.Length >= 2 ? requestLine[1] : null;
    }

    private static bool EndsWithBlankLine(List<byte> bytes) =>
        bytes.Count >= 4 && bytes[^4] == '\r' && bytes[^3] == '\n' && bytes[^2] == '\r' && bytes[^1] == '\n';

    public void Dispose()
    {
        _stop.Cancel();
        _listener.Stop();
        try { _loop.Wait(TimeSpan.FromSeconds(5)); } catch (AggregateException) { }
        _stop.Dispose();
    }
}

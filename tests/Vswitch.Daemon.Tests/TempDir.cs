namespace Vswitch.Daemon.Tests;

/// <summary>A unique directory /tmp/vsw_&lt;run&gt;d&lt;random&gt; (recorded for the sweep) removed on dispose.</summary>
public sealed class TempDir : IDisposable
{
    public TempDir()
    {
        Path = TestObjects.NewTempPath('d');
        Directory.CreateDirectory(Path);
    }

    public string Path { get; }

    public string File(string name) => System.IO.Path.Combine(Path, name);

    public void Dispose()
    {
        try { Directory.Delete(Path, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}

using Vswitch.Daemon.Config;

namespace Vswitch.Daemon;

/// <summary>
/// The persisted switch state: <c>STATE_DIR/state.json</c> in the configuration schema (plus the digest of the config file
/// it was derived from). Written atomically (temporary file, fsync, rename) so a crash leaves the old or the new state,
/// never a torn one.
/// </summary>
public sealed class StateStore
{
    /// <summary>The default state directory.</summary>
    public const string DefaultDirectory = "/var/lib/vswitch";

    /// <summary>Creates a store in <paramref name="directory"/> (created on first save, mode 0700).</summary>
    public StateStore(string directory)
    {
        Directory = directory;
        FilePath = Path.Combine(directory, "state.json");
    }

    /// <summary>The state directory.</summary>
    public string Directory { get; }

    /// <summary>The state file.</summary>
    public string FilePath { get; }

    /// <summary>True when a saved state exists.</summary>
    public bool Exists => File.Exists(FilePath);

    /// <summary>Loads the saved state; a corrupt file is a <see cref="ConfigException"/> naming it. Null when none is saved.</summary>
    public (SwitchConfig Config, string? ConfigDigest)? Load()
    {
        if (!Exists) return null;
        var text = File.ReadAllText(FilePath);
        return (ConfigLoader.Load(FilePath, text), ConfigLoader.ReadDigest(text));
    }

    /// <summary>Saves <paramref name="config"/> atomically. Throws <see cref="IOException"/> naming the file on failure (the old state stays).</summary>
    public void Save(SwitchConfig config, string? configDigest)
    {
        var tmp = Path.Combine(Directory, $".state.json.{Environment.ProcessId}.tmp");
        try
        {
            System.IO.Directory.CreateDirectory(Directory);
            File.SetUnixFileMode(Directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            using (var fs = new FileStream(tmp, FileMode.Create, FileAccess.Write, FileShare.None))
            {
                var bytes = System.Text.Encoding.UTF8.GetBytes(ConfigLoader.ToJson(config, configDigest));
                fs.Write(bytes);
                fs.Flush(flushToDisk: true);
            }
            File.Move(tmp, FilePath, overwrite: true);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            try { File.Delete(tmp); } catch (IOException) { } catch (UnauthorizedAccessException) { }
            throw new IOException($"cannot save state to {FilePath}: {ex.Message}", ex);
        }
    }
}

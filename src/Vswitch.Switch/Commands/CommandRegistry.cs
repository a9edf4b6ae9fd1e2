using System.Globalization;

namespace Vswitch.Switch.Commands;

/// <summary>A command refused its input or could not be carried out; the message says why. The command changed nothing.</summary>
/// <param name="message">What was wrong, naming the argument or object.</param>
/// <param name="exitCode">Exit status for command-line clients (default 2).</param>
public sealed class CommandException(string message, int exitCode = 2) : Exception(message)
{
    /// <summary>Exit status for command-line clients.</summary>
    public int ExitCode { get; } = exitCode;
}

/// <summary>One call of a command: its parsed arguments and where its output goes.</summary>
/// <param name="Name">The command name as invoked.</param>
/// <param name="Args">Arguments after the command name, parsed by the command's <see cref="CommandSyntax"/> (the list is the positional ones).</param>
/// <param name="Output">Where the command writes its normal output.</param>
public sealed record CommandInvocation(string Name, CommandArgs Args, TextWriter Output);

/// <summary>A command handler: writes to <see cref="CommandInvocation.Output"/>, throws <see cref="CommandException"/> for bad input.</summary>
public delegate void CommandHandler(CommandInvocation invocation);

/// <summary>A registered command.</summary>
/// <param name="Name">Name, e.g. <c>fdb/show</c> or <c>add-br</c>.</param>
/// <param name="Usage">Argument synopsis, e.g. <c>[--may-exist] BR</c>.</param>
/// <param name="Syntax">The arguments it accepts (flags, options, keyed and positional arguments).</param>
/// <param name="Description">One-line description.</param>
/// <param name="Handler">The implementation.</param>
public sealed record CommandInfo(string Name, string Usage, CommandSyntax Syntax, string Description, CommandHandler Handler)
{
    /// <summary>Minimum raw argument count.</summary>
    public int MinArgs => Syntax.MinArgs;

    /// <summary>Maximum raw argument count (<see cref="int.MaxValue"/> = unlimited).</summary>
    public int MaxArgs => Syntax.MaxArgs;
}

/// <summary>The result of running a command: what the control protocol carries back.</summary>
/// <param name="Ok">True on success.</param>
/// <param name="Output">Normal output (may be empty).</param>
/// <param name="Error">Error message when not ok.</param>
/// <param name="ExitCode">0 on success; non-zero otherwise.</param>
public sealed record CommandResult(bool Ok, string Output, string? Error, int ExitCode)
{
    /// <summary>A failure with <paramref name="error"/>.</summary>
    public static CommandResult Fail(string error, int exitCode = 2) => new(false, "", error, exitCode);
}

/// <summary>
/// The set of management commands (OVS's unixctl): each command is written once against a <see cref="TextWriter"/> and serves
/// the control socket and in-process callers alike. Every call's arguments go through the one parser,
/// <see cref="CommandSyntax.Parse"/>, before its handler runs. Commands run one at a time (a lock), so a command sees a
/// stable state and its changes are never interleaved with another's. Thread-safe.
/// </summary>
public sealed class CommandRegistry
{
    private readonly SortedDictionary<string, CommandInfo> _commands = new(StringComparer.Ordinal);
    private readonly Lock _runLock = new();

    /// <summary>Creates a registry with <c>list-commands</c> registered.</summary>
    public CommandRegistry()
    {
        Register("list-commands", "", 0, 0, "list the commands", inv => ListCommands(inv.Output));
    }

    /// <summary>
    /// Registers a command taking <paramref name="minArgs"/> to <paramref name="maxArgs"/> positional arguments and no flags;
    /// a duplicate name throws <see cref="InvalidOperationException"/>.
    /// </summary>
    public void Register(string name, string usage, int minArgs, int maxArgs, string description, CommandHandler handler) =>
        Register(name, usage, CommandSyntax.Positional(minArgs, maxArgs), description, handler);

    /// <summary>Registers a command with its <paramref name="syntax"/>; a duplicate name throws <see cref="InvalidOperationException"/>.</summary>
    public void Register(string name, string usage, CommandSyntax syntax, string description, CommandHandler handler)
    {
        ArgumentNullException.ThrowIfNull(syntax);
        ArgumentNullException.ThrowIfNull(handler);
        lock (_runLock)
        {
            if (!_commands.TryAdd(name, new CommandInfo(name, usage, syntax, description, handler)))
                throw new InvalidOperationException($"command '{name}' is already registered");
        }
    }

    /// <summary>The registered commands by name.</summary>
    public IReadOnlyList<CommandInfo> Commands
    {
        get { lock (_runLock) return _commands.Values.ToArray(); }
    }

    /// <summary>Writes the command list as <c>list-commands</c> prints it.</summary>
    public void ListCommands(TextWriter output)
    {
        output.WriteLine("The available commands are:");
        foreach (var c in _commands.Values)
            output.WriteLine(c.Usage.Length == 0 ? $"  {c.Name}" : $"  {c.Name,-28} {c.Usage}");
    }

    /// <summary>
    /// Runs <paramref name="name"/> with <paramref name="args"/>. Never throws: an unknown command, a wrong argument count,
    /// arguments its syntax refuses or a <see cref="CommandException"/> give a failed result whose error names the problem.
    /// </summary>
    public CommandResult Execute(string name, IReadOnlyList<string> args)
    {
        lock (_runLock)
        {
            if (!_commands.TryGetValue(name, out var cmd))
                return CommandResult.Fail($"\"{name}\" is not a valid command (use list-commands to see them)", 2);
            if (args.Count < cmd.MinArgs || args.Count > cmd.MaxArgs)
            {
                var expected = cmd.Syntax.DescribeArity();
                return CommandResult.Fail($"\"{name}\" command takes {expected} argument{(expected == "1" ? "" : "s")}, got {args.Count} (usage: {name} {cmd.Usage})".TrimEnd(), 2);
            }
            var output = new StringWriter(CultureInfo.InvariantCulture);
            try
            {
                cmd.Handler(new CommandInvocation(name, cmd.Syntax.Parse(name, args), output));
                return new CommandResult(true, output.ToString(), null, 0);
            }
            catch (CommandException ex)
            {
                return CommandResult.Fail(ex.Message, ex.ExitCode);
            }
            catch (BridgeException ex)
            {
                return CommandResult.Fail(ex.Message, 1);
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                return CommandResult.Fail($"{name}: internal error: {ex.Message}", 1);
            }
        }
    }
}

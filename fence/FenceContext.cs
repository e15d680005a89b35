using Microsoft.Extensions.Logging;

namespace KvmOcf.Fence;

/// <summary>Everything a fence agent's callbacks get: typed option values, the action, the logger and
/// the deadline of the whole action (every call to the device is bounded by it).</summary>
public sealed class FenceContext
{
    private readonly FenceInput _input;
    private string? _password;

    internal FenceContext(FenceAgent agent, FenceInput input, string action, ILogger log, Deadline deadline)
    {
        Agent = agent;
        _input = input;
        Action = action;
        Log = log;
        Deadline = deadline;
    }

    public FenceAgent Agent { get; }
    public string Action { get; }
    public ILogger Log { get; }
    public Deadline Deadline { get; }

    /// <summary>The option's value, or its default; an invalid value ends the action (exit 1, named).</summary>
    public T Get<T>(Parameter<T> parameter)
    {
        // an option the agent does not declare (method for a device without power cycles …) is its default
        if (Agent.Options.FirstOrDefault(o => o.Parameter == parameter) is not { } option || _input[option] is not { Length: > 0 } text)
            return parameter.Default;
        if (parameter.Problem(text) is { } problem || !parameter.TryParse(text, out var value, out problem))
            throw new FenceUsageException(Describe(parameter, text, problem));
        return value;
    }

    public T Get<T>(FenceOption option) => Get((Parameter<T>)option.Parameter);
    public string Text(FenceOption option) => Get((Parameter<string>)option.Parameter);
    public bool IsSet(FenceOption option) => _input[option] is { Length: > 0 };

    /// <summary>The first problem of any value given, or null.</summary>
    internal string? InvalidValue() =>
        Agent.Options.Select(o => _input[o] is { Length: > 0 } text && o.Parameter.Problem(text) is { } p ? Describe(o.Parameter, text, p) : null)
            .FirstOrDefault(p => p is not null);

    internal static string Describe(Parameter parameter, string text, string problem) =>
        parameter.Secret ? $"option '{parameter.Name}': the value {problem}" : $"option '{parameter.Name}': {OneLine.Quote(text)} {problem}";

    /// <summary>The plugs to act on (plug split at plug_separator); empty for a device without plugs.</summary>
    public IReadOnlyList<string> Plugs =>
        !Agent.HasPlugs ? [""] : Text(StandardOptions.Plug).Split(Get<string>(StandardOptions.PlugSeparator), StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    /// <summary>The password: the password option, else the first line password_script prints. The
    /// script runs without a shell (its words split as a shell would) and bounded; the password goes
    /// to devices through stdin or the environment only, never argv, logs or messages.</summary>
    public string Password
    {
        get
        {
            if (_password is not null) return _password;
            if (IsSet(StandardOptions.Password) || !Agent.Has(StandardOptions.PasswordScript) || !IsSet(StandardOptions.PasswordScript))
                return _password = Agent.Has(StandardOptions.Password) ? Text(StandardOptions.Password) : "";
            var words = ShellWords.Split(Text(StandardOptions.PasswordScript));
            if (words.Count == 0) throw new FenceUsageException("password_script is empty");
            CommandResult run;
            try { run = Run(new Command(words[0]).WithArguments(words.Skip(1)), TimeSpan.FromSeconds(30)); }
            catch (OperationException e) { throw new OperationException(e.Kind, $"password_script: {e.Reason}"); }
            if (!run.Succeeded) throw new OperationException(FailureKind.Failed, $"password_script exited {run.ExitCode}");
            return _password = run.StandardOutput.Split('\n')[0].TrimEnd('\r');
        }
    }

    /// <summary>Runs a command bounded by the action's deadline (and by <paramref name="atMost"/> from now).</summary>
    public CommandResult Run(Command command, TimeSpan? atMost = null) =>
        command.Run(atMost is { } max ? Deadline.AtMost(max) : Deadline, Log);
}

/// <summary>A command line split into words as a shell would split it (quotes and backslashes),
/// without anything else a shell does: no variables, globs, pipes or redirections.</summary>
public static class ShellWords
{
    public static List<string> Split(string line)
    {
        var words = new List<string>();
        var word = new System.Text.StringBuilder();
        bool inWord = false;
        char quote = '\0';
        for (int i = 0; i < line.Length; i++)
        {
            char c = line[i];
            if (quote != '\0')
            {
                if (c == quote) quote = '\0';
                else if (c == '\\' && quote == '"' && i + 1 < line.Length && line[i + 1] is '"' or '\\' or '$' or '`') word.Append(line[++i]);
                else word.Append(c);
            }
            else if (c is '\'' or '"') { quote = c; inWord = true; }
            else if (c == '\\' && i + 1 < line.Length) { word.Append(line[++i]); inWord = true; }
            else if (char.IsWhiteSpace(c))
            {
                if (inWord) words.Add(word.ToString());
                word.Clear();
                inWord = false;
            }
            else { word.Append(c); inWord = true; }
        }
        if (quote != '\0') throw new FenceUsageException("password_script has an unterminated quote");
        if (inWord) words.Add(word.ToString());
        return words;
    }
}

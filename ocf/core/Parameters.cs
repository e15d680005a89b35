using System.Globalization;

namespace KvmOcf.Core;

/// <summary>One parameter of an agent, declared once, with its facts and its typed parsing and
/// validation. How it is named on the wire and rendered (<c>OCF_RESKEY_name</c> and OCF metadata;
/// <c>name=</c> on stdin, <c>--name</c> and fence-agents metadata) belongs to each runtime.</summary>
public abstract class Parameter
{
    private protected Parameter(string name)
    {
        if (!IsValidName(name)) throw new ArgumentException($"invalid parameter name '{name}'", nameof(name));
        Name = name;
    }

    public string Name { get; }
    public required string ShortDescription { get; init; }
    public required string LongDescription { get; init; }
    public bool Required { get; init; }
    /// <summary>Values must be unique across resources of this agent within the group (OCF 1.1
    /// unique-group; runtimes without the notion ignore it).</summary>
    public string? UniqueGroup { get; init; }
    /// <summary>A change can be applied without a restart (OCF reload-agent).</summary>
    public bool Reloadable { get; init; }
    /// <summary>The value is never echoed in errors or logs.</summary>
    public bool Secret { get; init; }
    /// <summary>Set when the parameter itself is deprecated; says what to do instead.</summary>
    public string? Deprecated { get; init; }
    /// <summary>Older names that still work. Each appears in the metadata as a deprecated parameter
    /// replaced by this one; a value given under a former name is used when this name is unset.</summary>
    public IReadOnlyList<string> FormerNames { get; init; } = [];

    /// <summary>The value's type as metadata names it (boolean, string, integer, select): the types
    /// both the OCF 1.1 schema, pcs and fence-agents' metadata accept.</summary>
    public abstract string ContentType { get; }
    /// <summary>Human description of what values are accepted, for usage text.</summary>
    public abstract string Accepts { get; }
    public virtual IReadOnlyList<string> Options => [];
    /// <summary>The default as it appears in metadata, or null when there is none to show.</summary>
    public abstract string? DefaultText { get; }

    /// <summary>Null when <paramref name="text"/> is an acceptable value, else what is wrong with it.</summary>
    public abstract string? Problem(string text);

    /// <summary>Its facts in a few words each (required or optional, what it accepts, its default …),
    /// as usage texts and man pages show them.</summary>
    public IEnumerable<string> Facts()
    {
        yield return Required ? "required" : "optional";
        yield return Accepts;
        if (DefaultText is { } d) yield return "default " + d;
        if (UniqueGroup is { } g) yield return $"unique ({g})";
        if (Reloadable) yield return "reloadable";
        if (Secret) yield return "secret";
        if (Deprecated is not null) yield return "deprecated";
        if (FormerNames.Count > 0) yield return "formerly " + string.Join(", ", FormerNames);
    }

    /// <summary>Declaration mistakes (caught by the unit tests that load every agent).</summary>
    internal virtual IEnumerable<string> DeclarationErrors()
    {
        if (string.IsNullOrWhiteSpace(ShortDescription)) yield return $"{Name}: no short description";
        if (string.IsNullOrWhiteSpace(LongDescription)) yield return $"{Name}: no long description";
        foreach (var former in FormerNames)
            if (!IsValidName(former)) yield return $"{Name}: invalid former name '{former}'";
    }

    internal static bool IsValidName(string name) =>
        name.Length is > 0 and <= 64 && char.IsAsciiLetterLower(name[0]) &&
        name.All(c => char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c == '_');

    public override string ToString() => Name;
}

/// <summary>A parameter whose value parses to <typeparamref name="T"/>.</summary>
public abstract class Parameter<T> : Parameter
{
    private readonly T _default;

    private protected Parameter(string name, T implicitDefault) : base(name) => _default = implicitDefault;

    /// <summary>Used when the parameter is unset or empty.</summary>
    public T Default { get => _default; init { _default = value; HasExplicitDefault = true; } }
    protected bool HasExplicitDefault { get; private set; }

    /// <summary>An extra rule on the parsed value (e.g. "must be an absolute path"); returns what is
    /// wrong, or null. A value it rejects is wrong everywhere.</summary>
    public Func<T, string?>? Check { get; init; }

    public abstract bool TryParse(string text, out T value, out string problem);
    public abstract string Format(T value);

    public override string? Problem(string text)
    {
        if (!TryParse(text, out var value, out var problem)) return problem;
        return Check?.Invoke(value);
    }

    public override string? DefaultText => Required ? null : Format(Default) is { Length: > 0 } s ? s : null;

    /// <summary>Optional parameters of types without a natural empty value must say their default.</summary>
    protected virtual bool NeedsExplicitDefault => true;

    internal override IEnumerable<string> DeclarationErrors()
    {
        foreach (var e in base.DeclarationErrors()) yield return e;
        if (!Required && NeedsExplicitDefault && !HasExplicitDefault) yield return $"{Name}: optional but no default";
        if (HasExplicitDefault && Check?.Invoke(Default) is { } p) yield return $"{Name}: default is invalid: {p}";
    }
}

/// <summary>Free text. Control characters (newlines included) are refused: they would break log lines.</summary>
public sealed class StringParameter(string name) : Parameter<string>(name, "")
{
    public int MaxLength { get; init; } = 4096;
    public override string ContentType => "string";
    public override string Accepts => "text";
    protected override bool NeedsExplicitDefault => false;

    public override bool TryParse(string text, out string value, out string problem)
    {
        value = text; problem = "";
        if (text.Length > MaxLength) problem = $"is {text.Length} characters long; at most {MaxLength} are allowed";
        else if (text.Any(char.IsControl)) problem = "contains control characters";
        return problem.Length == 0;
    }

    public override string Format(string value) => value;
}

/// <summary>A whole number (64-bit), optionally bounded.</summary>
public sealed class IntegerParameter(string name) : Parameter<long>(name, 0)
{
    public long Minimum { get; init; } = long.MinValue;
    public long Maximum { get; init; } = long.MaxValue;
    public override string ContentType => "integer";

    private string Range => (Minimum, Maximum) switch
    {
        (long.MinValue, long.MaxValue) => "",
        (_, long.MaxValue) => $"at least {Minimum}",
        (long.MinValue, _) => $"at most {Maximum}",
        _ => $"between {Minimum} and {Maximum}",
    };

    public override string Accepts => Range.Length == 0 ? "integer" : "integer " + Range;

    public override bool TryParse(string text, out long value, out string problem)
    {
        problem = "";
        var t = text.Trim();
        if (!long.TryParse(t, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out value))
            problem = IsDigits(t) ? "is out of range" : "is not an integer";
        else if (value < Minimum || value > Maximum)
            problem = "must be " + Range;
        return problem.Length == 0;
    }

    private static bool IsDigits(string t)
    {
        var digits = t.AsSpan().TrimStart("+-");
        return digits.Length > 0 && digits.Length >= t.Length - 1 && !digits.ContainsAnyExcept("0123456789");
    }

    public override string Format(long value) => value.ToString(CultureInfo.InvariantCulture);
}

/// <summary>true/false; also accepts 1/0, yes/no, on/off in any case. Anything else is an error,
/// not silently false as in shell agents.</summary>
public sealed class BooleanParameter(string name) : Parameter<bool>(name, false)
{
    public override string ContentType => "boolean";
    public override string Accepts => "true or false";
    protected override bool NeedsExplicitDefault => false;

    public override bool TryParse(string text, out bool value, out string problem)
    {
        problem = "";
        switch (text.Trim().ToLowerInvariant())
        {
            case "1" or "true" or "yes" or "on": value = true; break;
            case "0" or "false" or "no" or "off": value = false; break;
            default: value = false; problem = "is not a boolean (use true or false)"; break;
        }
        return problem.Length == 0;
    }

    public override string Format(bool value) => value ? "true" : "false";
    public override string? DefaultText => Required ? null : Format(Default);
}

/// <summary>One of a fixed set of words.</summary>
public sealed class SelectParameter : Parameter<string>
{
    public SelectParameter(string name, params string[] options) : base(name, "")
    {
        if (options.Length == 0) throw new ArgumentException("a select needs options", nameof(options));
        Options = options;
    }

    public override IReadOnlyList<string> Options { get; }
    public override string ContentType => "select";
    public override string Accepts => "one of " + string.Join(", ", Options);

    public override bool TryParse(string text, out string value, out string problem)
    {
        value = text.Trim();
        problem = Options.Contains(value) ? "" : "must be " + Accepts;
        return problem.Length == 0;
    }

    public override string Format(string value) => value;

    internal override IEnumerable<string> DeclarationErrors()
    {
        foreach (var e in base.DeclarationErrors()) yield return e;
        if (HasExplicitDefault && !Options.Contains(Default)) yield return $"{Name}: default is not an option";
    }
}

/// <summary>A duration written as pacemaker writes them: <c>30</c> (seconds), <c>30s</c>,
/// <c>500ms</c>, <c>2min</c>, <c>1h</c>. Declared to metadata as a string, since the OCF 1.1 schema
/// has no time type.</summary>
public sealed class TimeParameter(string name) : Parameter<TimeSpan>(name, TimeSpan.Zero)
{
    public TimeSpan Minimum { get; init; } = TimeSpan.Zero;
    public TimeSpan Maximum { get; init; } = TimeSpan.FromDays(365);
    public override string ContentType => "string";
    public override string Accepts => "time, e.g. 30s, 500ms, 2min";

    public override bool TryParse(string text, out TimeSpan value, out string problem)
    {
        value = TimeSpan.Zero;
        problem = "";
        if (!TryParseDuration(text, out value))
            problem = "is not a time (use e.g. 30s, 500ms, 2min)";
        else if (value < Minimum || value > Maximum)
            problem = $"must be between {Format(Minimum)} and {Format(Maximum)}";
        return problem.Length == 0;
    }

    /// <summary>A whole or decimal number with an optional unit ("30s", "500ms", "2min"; plain
    /// seconds, "0.2" too, as fencing.py's second-typed options take them).</summary>
    public static bool TryParseDuration(string text, out TimeSpan value)
    {
        value = TimeSpan.Zero;
        var t = text.Trim();
        int digits = 0;
        while (digits < t.Length && char.IsAsciiDigit(t[digits])) digits++;
        int end = digits;
        if (end < t.Length && t[end] == '.')
            for (end++; end < t.Length && char.IsAsciiDigit(t[end]); end++) { }
        if (digits == 0 || digits > 15 || end - digits == 1 || end - digits > 10) return false;
        decimal n = decimal.Parse(t.AsSpan(0, end), NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture);
        long msPerUnit = t[end..].Trim().ToLowerInvariant() switch
        {
            "" or "s" or "sec" => 1000,
            "ms" or "msec" => 1,
            "m" or "min" => 60_000,
            "h" or "hr" => 3_600_000,
            _ => 0,
        };
        if (msPerUnit == 0 || n > (decimal)(TimeSpan.MaxValue.TotalMilliseconds / msPerUnit / 2)) return false;
        value = TimeSpan.FromMilliseconds((double)Math.Round(n * msPerUnit));
        return true;
    }

    public override string Format(TimeSpan value) => FormatDuration(value);

    public static string FormatDuration(TimeSpan value) =>
        value.Ticks % TimeSpan.TicksPerSecond == 0
            ? ((long)value.TotalSeconds).ToString(CultureInfo.InvariantCulture) + "s"
            : ((long)value.TotalMilliseconds).ToString(CultureInfo.InvariantCulture) + "ms";
}

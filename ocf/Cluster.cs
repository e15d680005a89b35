namespace KvmOcf.Ocf;

/// <summary>How long a node attribute lives: until the node reboots (attrd only) or in the CIB.</summary>
public enum AttributeLifetime { Reboot, Forever }

/// <summary>Pacemaker's command-line tools as agents need them: the promotion score, node
/// attributes and utilization. Reads use <c>--output-as=xml</c>; writes happen only when the value
/// differs, because every write is a CIB update replicated to every node.</summary>
public sealed class Cluster(OcfContext context)
{
    /// <summary>This resource's promotion score on this node, or null when it has none.</summary>
    public long? PromotionScore()
    {
        var xml = Query(Promotion().WithArguments("--query", "--output-as=xml"), "reading the promotion score");
        return xml?.Descendants("attribute").FirstOrDefault()?.Attribute("value") is { } v && long.TryParse(v, out var n) ? n : null;
    }

    /// <summary>Sets the promotion score unless it already has that value; true if it wrote.</summary>
    public bool SetPromotionScore(long score)
    {
        if (PromotionScore() == score) return false;
        Write(Promotion().WithArguments("--update", score.ToString()), "setting the promotion score");
        return true;
    }

    /// <summary>Removes the promotion score (this node must not be promoted); true if it wrote.</summary>
    public bool RemovePromotionScore()
    {
        if (PromotionScore() is null) return false;
        Write(Promotion().WithArguments("--delete"), "removing the promotion score");
        return true;
    }

    /// <summary>A node attribute of <paramref name="node"/> (default: this node), or null when unset.</summary>
    public string? NodeAttribute(string name, AttributeLifetime lifetime, string? node = null)
    {
        var xml = Query(NodeAttributeCommand(name, lifetime, node).WithArguments("--query", "--output-as=xml"), $"reading node attribute {name}");
        return xml?.Descendants("attribute").FirstOrDefault(a => a.Attribute("name") == name)?.Attribute("value");
    }

    public bool SetNodeAttribute(string name, string value, AttributeLifetime lifetime, string? node = null)
    {
        if (NodeAttribute(name, lifetime, node) == value) return false;
        Write(NodeAttributeCommand(name, lifetime, node).WithArguments("--update", value), $"setting node attribute {name}");
        return true;
    }

    public bool RemoveNodeAttribute(string name, AttributeLifetime lifetime, string? node = null)
    {
        if (NodeAttribute(name, lifetime, node) is null) return false;
        Write(NodeAttributeCommand(name, lifetime, node).WithArguments("--delete"), $"removing node attribute {name}");
        return true;
    }

    /// <summary>A utilization attribute of this resource, or null when unset.</summary>
    public string? Utilization(string name)
    {
        var xml = Query(UtilizationCommand().WithArguments("--get-parameter", name, "--output-as=xml"), $"reading utilization {name}");
        return xml?.Descendants("item").FirstOrDefault(i => i.Attribute("name") == name)?.Text;
    }

    public bool SetUtilization(string name, string value)
    {
        if (Utilization(name) == value) return false;
        Write(UtilizationCommand().WithArguments("--set-parameter", name, "--parameter-value", value), $"setting utilization {name}");
        return true;
    }

    public bool RemoveUtilization(string name)
    {
        if (Utilization(name) is null) return false;
        Write(UtilizationCommand().WithArguments("--delete-parameter", name), $"removing utilization {name}");
        return true;
    }

    /// <summary>Pacemaker's "no such object": the attribute does not exist.</summary>
    private const int NoSuchObject = 105;

    private static Command NodeAttributeCommand(string name, AttributeLifetime lifetime, string? node)
    {
        var command = new Command("crm_attribute").WithArguments("--name", name, "--lifetime", lifetime == AttributeLifetime.Reboot ? "reboot" : "forever");
        return node is null ? command : command.WithArguments("--node", node);
    }

    /// <summary>crm_attribute for this resource's promotion score (named explicitly rather than
    /// left to OCF_RESOURCE_INSTANCE in the child's environment).</summary>
    private Command Promotion() => new Command("crm_attribute").WithArguments($"--promotion={RequireInstance()}");

    private string RequireInstance() => context.Instance.Length > 0
        ? context.Instance
        : throw new OcfException(OcfExitCode.ErrConfigured, "OCF_RESOURCE_INSTANCE is not set");

    /// <summary>Utilization belongs to the primitive, not to a clone instance ("rsc:2").</summary>
    private Command UtilizationCommand()
    {
        var instance = RequireInstance();
        int colon = instance.IndexOf(':');
        return new Command("crm_resource").WithArguments("--resource", colon > 0 ? instance[..colon] : instance, "--utilization");
    }

    /// <summary>Pacemaker's "not connected": no cluster is running here (e.g. the agent is run by hand).</summary>
    private const int NotConnected = 102;

    private XmlElement? Query(Command command, string what)
    {
        var result = context.Run(command);
        if (result.ExitCode == NoSuchObject) return null;
        var xml = TryParse(result.StandardOutput);
        if (!result.Succeeded) throw Failure(result, xml, what);
        return xml ?? throw new OcfException(OcfExitCode.ErrGeneric, $"{what}: {command.Name} gave unreadable output");
    }

    private void Write(Command command, string what)
    {
        var result = context.Run(command);
        if (!result.Succeeded) throw Failure(result, TryParse(result.StandardOutput), what);
    }

    private static XmlElement? TryParse(string text)
    {
        try { return text.TrimStart().StartsWith('<') ? Xml.Parse(text) : null; }
        catch (FormatException) { return null; }
    }

    /// <summary>The tool's own explanation: the XML status (its errors, else its message), else stderr.</summary>
    private static OcfException Failure(CommandResult result, XmlElement? xml, string what)
    {
        var status = xml?.Element("status");
        var why = status?.Descendants("error").FirstOrDefault()?.Text ?? status?.Attribute("message") ?? result.Summary;
        return result.ExitCode == NotConnected
            ? new ClusterUnavailableException($"{what}: the cluster is not running here ({OneLine.Of(why, 100)})")
            : new OcfException(OcfExitCode.ErrGeneric, $"{what} failed (exit {result.ExitCode}): {OneLine.Of(why, 200)}");
    }
}

/// <summary>Pacemaker's tools cannot reach a running cluster on this node.</summary>
public sealed class ClusterUnavailableException(string reason) : OcfException(OcfExitCode.ErrGeneric, reason);

using System.Globalization;
using System.Text;

namespace KvmOcf.Core;

/// <summary>A small XML reader and escaper for the machine-written XML agents deal with
/// (pacemaker's <c>--output-as=xml</c>, libvirt domain XML, <c>gluster --xml</c>). System.Xml's
/// reader would double the size of every agent binary, and start-up time grows with it; this
/// covers elements, attributes, text, CDATA, comments, processing instructions, a DOCTYPE without
/// an internal subset, and the predefined and numeric entities. Anything else is an error.</summary>
public static class Xml
{
    private const int MaxDepth = 256;

    /// <summary>Parses a document and returns its root element.</summary>
    /// <exception cref="FormatException">The text is not well-formed (or uses what this reader refuses).</exception>
    public static XmlElement Parse(string text) => new Reader(text).Document();

    /// <summary>Escapes text for element content or a double-quoted attribute, dropping characters
    /// XML 1.0 cannot carry at all.</summary>
    public static string Escape(string text)
    {
        var sb = new StringBuilder(text.Length + 16);
        foreach (var c in text)
        {
            switch (c)
            {
                case '&': sb.Append("&amp;"); break;
                case '<': sb.Append("&lt;"); break;
                case '>': sb.Append("&gt;"); break;
                case '"': sb.Append("&quot;"); break;
                case '\'': sb.Append("&apos;"); break;
                case '\t' or '\n' or '\r': sb.Append(c); break;
                case < ' ' or '\uFFFE' or '\uFFFF': break;
                default: sb.Append(c); break;
            }
        }
        return sb.ToString();
    }

    private sealed class Reader(string s)
    {
        private int _pos;

        public XmlElement Document()
        {
            Misc(allowDoctype: true);
            if (!Peek('<')) throw Error("no root element");
            var root = Element(0);
            Misc(allowDoctype: false);
            if (_pos != s.Length) throw Error("content after the root element");
            return root;
        }

        /// <summary>Whitespace, comments, processing instructions (and a DOCTYPE) between elements.</summary>
        private void Misc(bool allowDoctype)
        {
            while (true)
            {
                SkipSpace();
                if (Starts("<?")) Skip("?>");
                else if (Starts("<!--")) Skip("-->");
                else if (allowDoctype && Starts("<!DOCTYPE"))
                {
                    int end = s.IndexOf('>', _pos);
                    if (end < 0 || s.AsSpan(_pos, end - _pos).Contains('[')) throw Error("DOCTYPE with an internal subset");
                    _pos = end + 1;
                }
                else return;
            }
        }

        private XmlElement Element(int depth)
        {
            if (depth > MaxDepth) throw Error("elements nested too deeply");
            Expect('<');
            var name = Name();
            var attributes = new Dictionary<string, string>(StringComparer.Ordinal);
            while (true)
            {
                bool spaced = SkipSpace();
                if (Starts("/>")) return new XmlElement(name, attributes, [], "");
                if (Starts(">")) break;
                if (!spaced) throw Error("expected whitespace before an attribute");
                var attribute = Name();
                SkipSpace();
                Expect('=');
                SkipSpace();
                if (!attributes.TryAdd(attribute, AttributeValue())) throw Error($"duplicate attribute {attribute}");
            }

            var children = new List<XmlElement>();
            var text = new StringBuilder();
            while (true)
            {
                if (_pos >= s.Length) throw Error($"element {name} is not closed");
                char c = s[_pos];
                if (c == '<')
                {
                    if (Starts("</"))
                    {
                        var closing = Name();
                        if (closing != name) throw Error($"</{closing}> closes <{name}>");
                        SkipSpace();
                        Expect('>');
                        return new XmlElement(name, attributes, children, text.ToString());
                    }
                    if (Starts("<!--")) Skip("-->");
                    else if (Starts("<![CDATA[")) { int end = IndexOrThrow("]]>"); text.Append(s, _pos, end - _pos); _pos = end + 3; }
                    else if (Starts("<?")) Skip("?>");
                    else children.Add(Element(depth + 1));
                }
                else if (c == '&') text.Append(Entity());
                else { CheckChar(c); text.Append(c); _pos++; }
            }
        }

        private string AttributeValue()
        {
            if (_pos >= s.Length || s[_pos] is not ('"' or '\'')) throw Error("attribute value must be quoted");
            char quote = s[_pos++];
            var value = new StringBuilder();
            while (true)
            {
                if (_pos >= s.Length) throw Error("unterminated attribute value");
                char c = s[_pos];
                if (c == quote) { _pos++; return value.ToString(); }
                if (c == '<') throw Error("'<' in an attribute value");
                if (c == '&') value.Append(Entity());
                else { CheckChar(c); value.Append(c is '\t' or '\n' or '\r' ? ' ' : c); _pos++; }
            }
        }

        private string Entity()
        {
            int end = s.IndexOf(';', _pos);
            if (end < 0 || end - _pos > 12) throw Error("unterminated entity reference");
            var name = s.AsSpan(_pos + 1, end - _pos - 1);
            _pos = end + 1;
            switch (name)
            {
                case "lt": return "<";
                case "gt": return ">";
                case "amp": return "&";
                case "quot": return "\"";
                case "apos": return "'";
            }
            if (name.Length > 1 && name[0] == '#')
            {
                bool hex = name[1] == 'x';
                var digits = hex ? name[2..] : name[1..];
                if (int.TryParse(digits, hex ? NumberStyles.AllowHexSpecifier : NumberStyles.None, CultureInfo.InvariantCulture, out int code)
                    && code is > 0 and <= 0x10FFFF and not (>= 0xD800 and <= 0xDFFF))
                    return char.ConvertFromUtf32(code);
            }
            throw Error($"unknown entity &{name};");
        }

        private string Name()
        {
            int start = _pos;
            while (_pos < s.Length && !char.IsWhiteSpace(s[_pos]) && s[_pos] is not ('=' or '>' or '/' or '<' or '"' or '\'' or '&'))
                _pos++;
            if (_pos == start) throw Error("expected a name");
            return s[start.._pos];
        }

        private static void CheckChar(char c)
        {
            if (c < ' ' && c is not ('\t' or '\n' or '\r')) throw new FormatException("XML: control character in text");
        }

        private bool SkipSpace()
        {
            int start = _pos;
            while (_pos < s.Length && s[_pos] is ' ' or '\t' or '\n' or '\r') _pos++;
            return _pos > start;
        }

        private bool Peek(char c) => _pos < s.Length && s[_pos] == c;

        private bool Starts(string token)
        {
            if (string.CompareOrdinal(s, _pos, token, 0, token.Length) != 0) return false;
            _pos += token.Length;
            return true;
        }

        private void Expect(char c)
        {
            if (!Peek(c)) throw Error($"expected '{c}'");
            _pos++;
        }

        private void Skip(string terminator) => _pos = IndexOrThrow(terminator) + terminator.Length;

        private int IndexOrThrow(string terminator)
        {
            int end = s.IndexOf(terminator, _pos, StringComparison.Ordinal);
            return end >= 0 ? end : throw Error($"missing {terminator}");
        }

        private FormatException Error(string what) => new($"XML: {what} at offset {_pos}");
    }
}

/// <summary>An element: name, attributes, child elements and its own text (CDATA included).</summary>
public sealed class XmlElement(string name, IReadOnlyDictionary<string, string> attributes, IReadOnlyList<XmlElement> children, string text)
{
    public string Name { get; } = name;
    public IReadOnlyDictionary<string, string> Attributes { get; } = attributes;
    public IReadOnlyList<XmlElement> Children { get; } = children;
    /// <summary>The element's direct text, without that of its children.</summary>
    public string Text { get; } = text;

    public string? Attribute(string attributeName) => Attributes.GetValueOrDefault(attributeName);

    public XmlElement? Element(string childName)
    {
        foreach (var child in Children) if (child.Name == childName) return child;
        return null;
    }

    public IEnumerable<XmlElement> Elements(string childName)
    {
        foreach (var child in Children) if (child.Name == childName) yield return child;
    }

    /// <summary>Every element below this one (depth first) with that name.</summary>
    public IEnumerable<XmlElement> Descendants(string descendantName)
    {
        foreach (var child in Children)
        {
            if (child.Name == descendantName) yield return child;
            foreach (var d in child.Descendants(descendantName)) yield return d;
        }
    }

    /// <summary>Follows a path of child names, e.g. <c>"devices/emulator"</c>.</summary>
    public XmlElement? Find(string path)
    {
        XmlElement? current = this;
        foreach (var part in path.Split('/'))
            if ((current = current?.Element(part)) is null) return null;
        return current;
    }

    public override string ToString() => $"<{Name}>";
}

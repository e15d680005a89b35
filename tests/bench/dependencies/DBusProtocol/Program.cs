using Tmds.DBus.Protocol;

// Argument 1: the bus address. No argument: return at once (the library is still linked in), to
// show what merely carrying it costs an agent that calls it only in some actions.
if (args.Length == 0) return 0;
var address = args[0];
using var connection = new DBusConnection(address);
await connection.ConnectAsync();
MessageBuffer call;
using (var writer = connection.GetMessageWriter())
{
    writer.WriteMethodCallHeader("org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus", "GetId", null, MessageFlags.None);
    call = writer.CreateMessage();
}
var id = await connection.CallMethodAsync(call, static (Message m, object? _) => m.GetBodyReader().ReadString());
if (args.Length > 1 && args[1] == "-v") Console.WriteLine(id);
return id.Length == 32 ? 0 : 1;

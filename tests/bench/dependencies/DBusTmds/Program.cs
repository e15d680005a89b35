using Tmds.DBus;

var address = args.Length > 0 ? args[0] : Address.Session ?? throw new InvalidOperationException("no bus address");
using var connection = new Connection(address);
await connection.ConnectAsync();
var bus = connection.CreateProxy<IBus>("org.freedesktop.DBus", "/org/freedesktop/DBus");
var id = await bus.GetIdAsync();
return id.Length == 32 ? 0 : 1;

[DBusInterface("org.freedesktop.DBus")]
public interface IBus : IDBusObject
{
    Task<string> GetIdAsync();
}

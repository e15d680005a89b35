using System.Diagnostics;

var start = new ProcessStartInfo(args.Length > 0 ? args[0] : "/bin/true")
{
    RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true, UseShellExecute = false,
};
foreach (var a in args.Skip(1)) start.ArgumentList.Add(a);
using var p = Process.Start(start)!;
p.StandardInput.Close();
var stderr = p.StandardError.ReadToEndAsync();
var stdout = p.StandardOutput.ReadToEnd();
p.WaitForExit();
return p.ExitCode == 0 && stdout.Length >= 0 && stderr.Result.Length >= 0 ? 0 : 1;

using CliWrap;
using CliWrap.Buffered;

var result = await Cli.Wrap(args.Length > 0 ? args[0] : "/bin/true").WithArguments(args.Skip(1))
    .WithValidation(CommandResultValidation.None).ExecuteBufferedAsync();
return result.ExitCode == 0 && result.StandardOutput.Length >= 0 ? 0 : 1;

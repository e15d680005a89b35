using KvmOcf.Ocf;

var result = new Command(args.Length > 0 ? args[0] : "/bin/true").WithArguments(args.Skip(1))
    .Run(Deadline.After(TimeSpan.FromSeconds(10)));
return result.ExitCode == 0 && result.StandardOutput.Length >= 0 ? 0 : 1;

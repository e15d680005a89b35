using Mono.Unix;
using Mono.Unix.Native;

return Syscall.getpid() > 0 && UnixFileSystemInfo.GetFileSystemEntry("/").FileType == FileTypes.Directory ? 0 : 1;

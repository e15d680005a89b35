using KvmOcf.DrbdFencePeer;

return HandlerMain.Run(args);

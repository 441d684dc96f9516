"""What every layer shares: the values passed around, the params schema, the list of
compared models, files on disk, progress bars and a process's thread share."""

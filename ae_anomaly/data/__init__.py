"""Where curves come from: the article's synthetic generator, users' files, and the split."""

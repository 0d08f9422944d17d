"""Training recipes, one small module per task: `restore` (UMR-GAN) first; SR and translation follow."""

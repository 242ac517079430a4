"""Generator plugins (GAN, VAE, diffusion), registered in pyproject.toml (entry-point group ``lab.generators``)."""

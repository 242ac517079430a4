"""Generator plugins (diffusion, VAE, GAN), their image data sets and offline metrics; registered in pyproject.toml
(entry-point groups ``lab.generators`` and ``lab.datasets``).

    core.py        what the three share: config fields, the seeded data stream, the training loop, batched
                   sampling with its checks, evaluation against the references (the lab.generator contract)
    diffusion.py   diffusers UNet2DModel + DDPMScheduler, classifier-free guidance, DDIM / DDPM, EMA
    vae.py         convolutional VAE: β-weighted KL with warm-up, prior samples, reconstructions, interpolation
    gan.py         DCGAN-style GAN: spectral norm, hinge loss, generator EMA
    datasets.py    digits, folder:PATH, rollouts:ENV_ID; the fixed train / held-out split; the data folder
    rollouts.py    frames and actions collected from a Gymnasium environment, cached
    metrics/       the feature classifier, fd / kid / precision / recall / coverage / class_accuracy / copy_rate,
                   and the held-out and GMM references
"""

"""The `dit` engine: spacetime latents (a causal video VAE and an audio codec), the data
pipeline and the training stack that the joint audio-video diffusion transformer reuses.

- config.py: typed configs and named presets (tiny / cpu / full)
- video_vae.py, audio_codec.py: the codecs; layers.py: pieces they share; losses.py
- data.py: sim clips on the fly, MP4 folders with captions, latent caching
- checkpoint.py: sharded safetensors, `from_pretrained(dir)`
- train.py: `reelforge train vae|audio`, one process or torchrun (DDP, FSDP2 on GPUs)
- codecs.py: the shipped codecs behind one clip-level encode/decode
"""

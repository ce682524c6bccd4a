"""A tiny random LTX-2 snapshot in diffusers' layout, built from the real classes.

diffusers' own fixture loads `hf-internal-testing/tiny-gemma3` from the Hub, which these
tests cannot reach; here the Gemma 3 text encoder is a tiny random config and its tokenizer
is made in memory (byte fallback covers any text). The other components take the shapes of
diffusers' fixture: a 2-layer transformer, an 8-bin audio VAE and a small vocoder. About
250 k parameters.

Three departures from diffusers' fixture, each for a reason:
- the video VAE compresses 32x in space and 8x in time, LTX-2's own ratios (the fixture's
  2x would make a 1280x720 clip 230 k latent tokens a frame); its decoder is causal, as
  the released one, so frame 0 depends on the first latent frame alone;
- the text encoder's hidden size is 32: the connectors' 4 heads x 8 need it;
- the vocoder upsamples 100 mel frames a second 240x to 24 kHz, as LTX-2's does, and says
  so: the sound lasts as long as the video (the fixture claims 16 kHz for a 4x upsampling,
  so 1 s of video would be 8 ms of sound) and reaches the band the audio watermark rides
  on (375 Hz to 7.1 kHz; a 400 Hz vocoder's sound has nothing there to mark).
"""

from __future__ import annotations

from pathlib import Path

import torch

TEST_STEPS = 2  # what the tests ask of the engine: enough to see progress and cancel
VOCODER_UPSAMPLE = (6, 5, 2, 2, 2)  # LTX-2's own: 100 mel frames a second to 24 kHz
VOCODER_RATE_HZ = 100 * 6 * 5 * 2 * 2 * 2


def tiny_tokenizer():
    from transformers import GemmaTokenizer

    specials = ["<pad>", "<eos>", "<bos>", "<unk>", "<mask>"]
    vocab = {token: i for i, token in enumerate(specials)}
    for byte in range(256):
        vocab[f"<0x{byte:02X}>"] = len(vocab)
    for piece in ["▁", *"abcdefghijklmnopqrstuvwxyz"]:
        vocab[piece] = len(vocab)
    return GemmaTokenizer(vocab=vocab, merges=[])


def tiny_text_encoder(vocab_size: int):
    from transformers import Gemma3Config, Gemma3ForConditionalGeneration

    config = Gemma3Config(
        text_config=dict(
            vocab_size=vocab_size,
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=2,
            num_attention_heads=2,
            num_key_value_heads=1,
            head_dim=8,
        ),
        vision_config=dict(
            hidden_size=16,
            intermediate_size=32,
            num_hidden_layers=1,
            num_attention_heads=2,
            image_size=28,
            patch_size=14,
        ),
        mm_tokens_per_image=4,
    )
    return Gemma3ForConditionalGeneration(config)


def build_tiny_pipeline():
    """An LTX2Pipeline of random tiny modules (seeded: the same weights every time)."""
    from diffusers import (
        AutoencoderKLLTX2Audio,
        AutoencoderKLLTX2Video,
        FlowMatchEulerDiscreteScheduler,
        LTX2Pipeline,
        LTX2VideoTransformer3DModel,
    )
    from diffusers.pipelines.ltx2 import LTX2TextConnectors
    from diffusers.pipelines.ltx2.vocoder import LTX2Vocoder

    torch.manual_seed(0)
    tokenizer = tiny_tokenizer()
    text_encoder = tiny_text_encoder(len(tokenizer))
    text_width = text_encoder.config.text_config.hidden_size
    transformer = LTX2VideoTransformer3DModel(
        in_channels=4,
        out_channels=4,
        patch_size=1,
        patch_size_t=1,
        num_attention_heads=2,
        attention_head_dim=8,
        cross_attention_dim=16,
        audio_in_channels=4,
        audio_out_channels=4,
        audio_num_attention_heads=2,
        audio_attention_head_dim=4,
        audio_cross_attention_dim=8,
        num_layers=2,
        qk_norm="rms_norm_across_heads",
        caption_channels=text_width,
        rope_double_precision=False,
        rope_type="split",
    )
    connectors = LTX2TextConnectors(
        caption_channels=text_width,
        text_proj_in_factor=text_encoder.config.text_config.num_hidden_layers + 1,
        video_connector_num_attention_heads=4,
        video_connector_attention_head_dim=8,
        video_connector_num_layers=1,
        video_connector_num_learnable_registers=None,
        audio_connector_num_attention_heads=4,
        audio_connector_attention_head_dim=8,
        audio_connector_num_layers=1,
        audio_connector_num_learnable_registers=None,
        connector_rope_base_seq_len=32,
        rope_theta=10000.0,
        rope_double_precision=False,
        causal_temporal_positioning=False,
        rope_type="split",
    )
    # The released layout at a tiny width: patches of 8 pixels, then one temporal and two
    # spatio-temporal blocks: 32x in space, 8x in time, as LTX-2's. The constructor
    # infers other ratios from its defaults, so they are stated.
    vae = AutoencoderKLLTX2Video(
        latent_channels=4,
        block_out_channels=(8, 8, 8),
        down_block_types=("LTX2VideoDownBlock3D",) * 3,
        downsample_type=("temporal", "spatiotemporal", "spatiotemporal"),
        spatio_temporal_scaling=(True, True, True),
        layers_per_block=(1, 1, 1, 1),
        decoder_block_out_channels=(8, 8, 8),
        decoder_layers_per_block=(1, 1, 1, 1),
        decoder_spatio_temporal_scaling=(True, True, True),
        decoder_inject_noise=(False, False, False, False),
        upsample_type=("spatiotemporal", "spatiotemporal", "temporal"),
        upsample_residual=(False, False, False),
        upsample_factor=(1, 1, 1),
        patch_size=8,
        spatial_compression_ratio=32,
        temporal_compression_ratio=8,
    )
    audio_vae = AutoencoderKLLTX2Audio(
        base_channels=4,
        output_channels=2,
        ch_mult=(1,),
        num_res_blocks=1,
        attn_resolutions=None,
        in_channels=2,
        resolution=32,
        latent_channels=2,
        norm_type="pixel",
        causality_axis="height",
        dropout=0.0,
        mid_block_add_attention=False,
        sample_rate=16000,
        mel_hop_length=160,
        is_causal=True,
        mel_bins=8,
    )
    vocoder = LTX2Vocoder(
        in_channels=2 * 8,  # the audio VAE's output channels x mel bins
        hidden_channels=32,
        out_channels=2,
        upsample_kernel_sizes=[2 * factor for factor in VOCODER_UPSAMPLE],
        upsample_factors=list(VOCODER_UPSAMPLE),
        resnet_kernel_sizes=[3],
        resnet_dilations=[[1, 3, 5]],
        leaky_relu_negative_slope=0.1,
        output_sampling_rate=VOCODER_RATE_HZ,
    )
    return LTX2Pipeline(
        scheduler=FlowMatchEulerDiscreteScheduler(),
        vae=vae,
        audio_vae=audio_vae,
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        connectors=connectors,
        transformer=transformer,
        vocoder=vocoder,
    )


def save_tiny_snapshot(directory: Path) -> Path:
    build_tiny_pipeline().save_pretrained(directory)
    return directory

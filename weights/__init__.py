"""Trained weights shipped with strokepaint (safetensors): <brush>.renderer.safetensors, <brush>.agent.safetensors."""

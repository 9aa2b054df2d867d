"""Critic clients, each a critic.protocol.Critic for search:

http  HTTPCritic (swe-search's own server) and LocalCritic (a checkpoint in this process)
vllm  VLLMCritic (vLLM serves the checkpoint, the client tokenizes)
judge APIJudge (an LLM over the OpenAI protocol: P(YES) from logprobs) and LocalJudge (judge:smollm2)
"""

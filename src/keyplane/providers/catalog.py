"""The providers keyplane knows: API style, default base URL and the attributes routing filters on."""

from __future__ import annotations

from dataclasses import dataclass

from keyplane.errors import NotFound

# Styles the gateway can forward to unchanged with the OpenAI wire format; every other style needs
# request/response translation.
OPENAI_COMPATIBLE_STYLES = frozenset({"openai"})

# Every provider-specific block of seed 003's key object, mapped to the one provider it belongs to.
CONFIG_FIELDS: dict[str, str] = {
    "azure_key_config": "azure",
    "vertex_key_config": "vertex",
    "bedrock_key_config": "bedrock",
    "vllm_key_config": "vllm",
    "ollama_key_config": "ollama",
    "sgl_key_config": "sgl",
    "replicate_key_config": "replicate",
}


@dataclass(frozen=True, slots=True)
class ProviderInfo:
    """One upstream provider.

    `default_base_url` follows the provider's own SDK convention: for the `openai` style it includes
    the version segment (requests go to `{base}/chat/completions`, `{base}/models`); for the other
    styles it is the API root (`anthropic`: `{base}/v1/messages`, `ollama`: `{base}/api/tags`).
    """

    name: str
    api_style: str
    default_base_url: str | None
    eu_native: bool
    zero_data_retention: bool
    quantization: bool
    requires_value: bool
    config_field: str | None
    display_name: str = ""

    @property
    def openai_compatible(self) -> bool:
        return self.api_style in OPENAI_COMPATIBLE_STYLES


def _p(
    name: str,
    api_style: str,
    base: str | None,
    *,
    eu: bool = False,
    zdr: bool = False,
    quant: bool = False,
    value: bool = True,
    config: str | None = None,
    display: str = "",
) -> ProviderInfo:
    return ProviderInfo(
        name=name,
        api_style=api_style,
        default_base_url=base,
        eu_native=eu,
        zero_data_retention=zdr,
        quantization=quant,
        requires_value=value,
        config_field=config,
        display_name=display or name,
    )


# Attributes are conservative defaults from each provider's public terms (EU-native = company and
# serving infrastructure in the EU; zero_data_retention = no prompt/response retention by default,
# not "on request"; quantization = serves quantized weights for some models).
_ALL: tuple[ProviderInfo, ...] = (
    # First-party APIs with their own wire formats or auth.
    _p("openai", "openai", "https://api.openai.com/v1", display="OpenAI"),
    _p("azure", "azure", None, config="azure_key_config", display="Azure OpenAI"),
    _p("anthropic", "anthropic", "https://api.anthropic.com", display="Anthropic"),
    _p("bedrock", "bedrock", None, value=False, config="bedrock_key_config", display="AWS Bedrock"),
    _p("vertex", "vertex", None, value=False, config="vertex_key_config", display="Google Vertex AI"),
    _p("cohere", "cohere", "https://api.cohere.com", display="Cohere"),
    _p("replicate", "replicate", "https://api.replicate.com", config="replicate_key_config"),
    # Self-hosted servers: the URL comes from the key's config block (or a provider setting).
    _p("vllm", "openai", None, value=False, config="vllm_key_config", display="vLLM"),
    _p("sgl", "openai", None, value=False, config="sgl_key_config", display="SGLang"),
    _p("ollama", "ollama", "http://localhost:11434", value=False, config="ollama_key_config"),
    # Any OpenAI-compatible server: set its base URL with PUT /api/v1/providers/custom/settings.
    _p("custom", "openai", None, value=False, display="Custom OpenAI-compatible"),
    # OpenAI-compatible hosts.
    _p("gemini", "openai", "https://generativelanguage.googleapis.com/v1beta/openai", display="Gemini"),
    _p("groq", "openai", "https://api.groq.com/openai/v1", display="Groq"),
    _p("mistral", "openai", "https://api.mistral.ai/v1", eu=True, display="Mistral AI"),
    _p("together", "openai", "https://api.together.xyz/v1", quant=True, display="Together AI"),
    _p("fireworks", "openai", "https://api.fireworks.ai/inference/v1", zdr=True, quant=True),
    _p("deepinfra", "openai", "https://api.deepinfra.com/v1/openai", zdr=True, quant=True),
    _p("openrouter", "openai", "https://openrouter.ai/api/v1", quant=True, display="OpenRouter"),
    _p("xai", "openai", "https://api.x.ai/v1", display="xAI"),
    _p("deepseek", "openai", "https://api.deepseek.com/v1", display="DeepSeek"),
    _p("cerebras", "openai", "https://api.cerebras.ai/v1", zdr=True, display="Cerebras"),
    _p("perplexity", "openai", "https://api.perplexity.ai", display="Perplexity"),
    _p("huggingface", "openai", "https://router.huggingface.co/v1", display="Hugging Face"),
    # EU-native OpenAI-compatible hosts.
    _p("nebius", "openai", "https://api.studio.nebius.com/v1", eu=True, quant=True, display="Nebius"),
    _p("scaleway", "openai", "https://api.scaleway.ai/v1", eu=True, zdr=True, display="Scaleway"),
    _p(
        "ovhcloud",
        "openai",
        "https://oai.endpoints.kepler.ai.cloud.ovh.net/v1",
        eu=True,
        zdr=True,
        display="OVHcloud AI Endpoints",
    ),
    _p("ionos", "openai", "https://openai.inference.de-txl.ionos.com/v1", eu=True, zdr=True, display="IONOS"),
    _p("cortecs", "openai", "https://api.cortecs.ai/v1", eu=True, zdr=True, display="Cortecs"),
)

PROVIDERS: dict[str, ProviderInfo] = {info.name: info for info in _ALL}


def get_provider(name: str) -> ProviderInfo:
    info = PROVIDERS.get(name)
    if info is None:
        raise NotFound(f"Unknown provider '{name[:100]}'", code="unknown_provider")
    return info


def is_known_provider(name: str) -> bool:
    return name in PROVIDERS

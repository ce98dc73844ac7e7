using System.ClientModel;
using System.ClientModel.Primitives;
using System.Collections.Concurrent;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using Anthropic;
using Anthropic.Exceptions;
using Everruns.Contracts;
using Microsoft.Extensions.AI;
using OllamaSharp;
using OpenAI;

namespace Everruns.Modules.Execution;

/// <summary>
/// The provider types this server can call, each through Microsoft.Extensions.AI's <see cref="IChatClient"/>:
/// <c>openai</c> (and any OpenAI-compatible server), <c>azure_openai</c> (an Azure OpenAI resource's v1 API, its key in the
/// <c>api-key</c> header), <c>anthropic</c> (the official Anthropic SDK's chat client) and <c>ollama</c> (OllamaSharp; a key, when given, as a bearer token).
/// The SDKs' own retries are off: <see cref="ModelRetries"/> retries every driver alike. Clients are kept per type, address,
/// key (by its hash) and model.
/// </summary>
public sealed class ModelDrivers(ModelOptions options) : IProviderModelLister
{
    public const string OpenAi = "openai";
    public const string AzureOpenAi = "azure_openai";
    public const string Anthropic = "anthropic";
    public const string Ollama = "ollama";

    public static readonly IReadOnlyList<string> Types = [OpenAi, AzureOpenAi, Anthropic, Ollama];

    private readonly ConcurrentDictionary<string, IChatClient> _clients = new();

    public bool Supports(string providerType) => Types.Contains(providerType);

    public IChatClient Client(string type, string? baseUrl, string? apiKey, string model)
    {
        var keyHash = apiKey is null ? "" : Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(apiKey)));
        if (_clients.Count > 1000) _clients.Clear();
        return _clients.GetOrAdd($"{type}|{baseUrl}|{keyHash}|{model}", _ => type switch
        {
            OpenAi or AzureOpenAi => OpenAiClient(type, baseUrl, apiKey).GetChatClient(model).AsIChatClient(),
            Anthropic => AnthropicClient(baseUrl, apiKey).AsIChatClient(model, options.MaxOutputTokens),
            Ollama => new OllamaApiClient(OllamaHttp(baseUrl, apiKey), model),
            _ => throw new ProviderCallException(ProviderErrors.Misconfigured, $"this server has no driver for provider type '{type}'"),
        });
    }

    public async Task<IReadOnlyList<string>> ListAsync(string providerType, string? baseUrl, string? apiKey, CancellationToken ct = default)
    {
        try
        {
            switch (providerType)
            {
                case OpenAi or AzureOpenAi:
                    var listed = await OpenAiClient(providerType, baseUrl, apiKey).GetOpenAIModelClient().GetModelsAsync(ct);
                    return listed.Value.Select(m => m.Id).ToList();
                case Anthropic:
                    var names = new List<string>();
                    var page = await AnthropicClient(baseUrl, apiKey).Models.List(cancellationToken: ct);
                    while (true)
                    {
                        names.AddRange(page.Items.Select(m => m.ID));
                        if (!page.HasNext()) return names;
                        page = await page.Next(ct);
                    }
                case Ollama:
                    return (await new OllamaApiClient(OllamaHttp(baseUrl, apiKey)).ListLocalModelsAsync(ct)).Select(m => m.Name).ToList();
                default:
                    throw new ProviderCallException(ProviderErrors.Misconfigured, $"this server has no driver for provider type '{providerType}'");
            }
        }
        catch (Exception e) when (e is not ProviderCallException && !ct.IsCancellationRequested)
        {
            throw ModelErrors.Classify(e, providerType, null);
        }
    }

    private static OpenAIClient OpenAiClient(string type, string? baseUrl, string? apiKey)
    {
        var clientOptions = new OpenAIClientOptions { RetryPolicy = new ClientRetryPolicy(0) };
        if (type == AzureOpenAi)
        {
            // An Azure OpenAI resource (https://<name>.openai.azure.com) answers the OpenAI API under /openai/v1/.
            if (baseUrl is null)
                throw new ProviderCallException(ProviderErrors.Misconfigured, "an azure_openai provider needs its resource's base_url");
            clientOptions.Endpoint = new Uri(baseUrl.TrimEnd('/') + "/openai/v1/");
            var credential = new ApiKeyCredential(apiKey ?? throw new ProviderCallException(ProviderErrors.Misconfigured, "an azure_openai provider needs an api_key"));
#pragma warning disable OPENAI001 // the constructor taking an authentication policy is marked experimental; Azure's header needs it
            return new OpenAIClient(ApiKeyAuthenticationPolicy.CreateHeaderApiKeyPolicy(credential, "api-key"), clientOptions);
#pragma warning restore OPENAI001
        }

        if (baseUrl is not null) clientOptions.Endpoint = new Uri(baseUrl);
        return new OpenAIClient(new ApiKeyCredential(apiKey ?? "unused"), clientOptions);
    }

    private static AnthropicClient AnthropicClient(string? baseUrl, string? apiKey)
    {
        // Always given a key (else the SDK would look for one in this process's environment and files).
        var options = new Anthropic.Core.ClientOptions { ApiKey = apiKey ?? "", MaxRetries = 0 };
        if (baseUrl is not null) options.BaseUrl = baseUrl.TrimEnd('/');
        return new AnthropicClient(options);
    }

    /// <summary>Ollama needs no key; one given (an Ollama behind an authenticating proxy, or a hosted one) goes as a bearer token.</summary>
    private static HttpClient OllamaHttp(string? baseUrl, string? apiKey)
    {
        var http = new HttpClient { BaseAddress = new Uri(baseUrl ?? "http://localhost:11434"), Timeout = Timeout.InfiniteTimeSpan };
        if (!string.IsNullOrEmpty(apiKey)) http.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", apiKey);
        return http;
    }
}

/// <summary>
/// A failed model call, whatever its driver, as one of <see cref="ProviderErrors"/>' codes with a readable message: the
/// HTTP status the provider answered (401/403 misconfigured, 404 model unavailable, 413 or a context-length refusal too
/// large, 429 rate limited, 408/5xx/529 or no answer at all unavailable), and its Retry-After when it sent one.
/// </summary>
public static class ModelErrors
{
    public static ProviderCallException Classify(Exception e, string provider, string? model)
    {
        if (e is ProviderCallException known) return known;
        var (status, body, retryAfter) = e switch
        {
            ClientResultException c => ((HttpStatusCode?)c.Status, c.Message, RetryAfter(c.GetRawResponse())),
            AnthropicApiException a => ((HttpStatusCode?)a.StatusCode, a.ResponseBody, (TimeSpan?)null),
            HttpRequestException h => (h.StatusCode, h.Message, null),
            OllamaSharp.Models.Exceptions.OllamaException o => (HttpStatusCode.BadRequest, o.Message, null),
            _ => (null, e.Message, null),
        };
        var what = model is null ? $"provider '{provider}'" : $"model '{model}' of provider '{provider}'";
        var reason = Shorten(body);
        var (code, message) = status switch
        {
            HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden =>
                (ProviderErrors.Misconfigured, $"The {what} refused the credentials (check the provider's api_key): {reason}"),
            HttpStatusCode.TooManyRequests => (ProviderErrors.RateLimited, $"The {what} is rate limited: {reason}"),
            HttpStatusCode.NotFound => (ProviderErrors.ModelUnavailable, $"The {what} is not available there: {reason}"),
            HttpStatusCode.RequestEntityTooLarge => (ProviderErrors.RequestTooLarge, $"The conversation is too large for the {what}: {reason}"),
            HttpStatusCode.BadRequest or HttpStatusCode.UnprocessableEntity when TooLong(body) =>
                (ProviderErrors.RequestTooLarge, $"The conversation is too long for the {what}: {reason}"),
            HttpStatusCode.RequestTimeout or >= HttpStatusCode.InternalServerError =>
                (ProviderErrors.Unavailable, $"The {what} is unavailable ({(int)status!}): {reason}"),
            null when e is HttpRequestException or IOException or TimeoutException or TaskCanceledException or AnthropicIOException =>
                (ProviderErrors.Unavailable, $"The {what} could not be reached: {reason}"),
            _ => (ProviderErrors.ProcessingError, $"The model call failed: {reason}"),
        };
        return new ProviderCallException(code, message, retryAfter, e);
    }

    private static bool TooLong(string body) =>
        body.Contains("context length", StringComparison.OrdinalIgnoreCase) || body.Contains("context_length", StringComparison.OrdinalIgnoreCase)
        || body.Contains("too long", StringComparison.OrdinalIgnoreCase) || body.Contains("too many tokens", StringComparison.OrdinalIgnoreCase);

    private static TimeSpan? RetryAfter(PipelineResponse? response) =>
        response?.Headers.TryGetValue("retry-after", out var value) == true && double.TryParse(value, System.Globalization.CultureInfo.InvariantCulture, out var seconds)
            ? TimeSpan.FromSeconds(Math.Max(0, seconds))
            : null;

    private static string Shorten(string text)
    {
        text = text.ReplaceLineEndings(" ").Trim();
        return text.Length <= 300 ? text : text[..300] + "...";
    }
}

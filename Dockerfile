# Multi-stage build of the one deployable (src/Host).
# The .NET base images are passed in (no registry is named here):
#   docker build --build-arg DOTNET_SDK_IMAGE=<.NET 10 SDK image> --build-arg DOTNET_RUNTIME_IMAGE=<ASP.NET Core 10 runtime image> .
ARG DOTNET_SDK_IMAGE
ARG DOTNET_RUNTIME_IMAGE

FROM ${DOTNET_SDK_IMAGE} AS build
WORKDIR /src
COPY Directory.Build.props Directory.Packages.props Everruns.sln ./
COPY src/Contracts/Everruns.Contracts.csproj src/Contracts/
COPY src/Infrastructure/Everruns.Infrastructure.csproj src/Infrastructure/
COPY src/Modules/ src/Modules/
COPY src/Host/Everruns.Host.csproj src/Host/
RUN find src/Modules -type f ! -name '*.csproj' -delete && dotnet restore src/Host/Everruns.Host.csproj
COPY src/ src/
RUN dotnet publish src/Host/Everruns.Host.csproj -c Release -o /app --no-restore

FROM ${DOTNET_RUNTIME_IMAGE}
WORKDIR /app
COPY --from=build /app ./
ENV HOST=0.0.0.0 PORT=9000
EXPOSE 9000
USER app
ENTRYPOINT ["dotnet", "Everruns.Host.dll"]

